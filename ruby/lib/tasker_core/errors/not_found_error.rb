# frozen_string_literal: true

module TaskerCore
  # An unknown task or step (envelope type "not_found"; details name the id).
  class NotFoundError < ValidationError
  end
end
