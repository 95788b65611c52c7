# frozen_string_literal: true

module TaskerCore
  # An operator action refused by an authorizer: the Ruby hook of
  # TaskerCore.configure (c.authorize) or a Go Authorizer of the library
  # (envelope type "permission_denied"). Nothing was written. details name the
  # "actor", "action" and target.
  class PermissionDeniedError < Error
  end
end
