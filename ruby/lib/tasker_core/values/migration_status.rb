# frozen_string_literal: true

module TaskerCore
  # What Client#migrate! would do, read without changing anything: the schema
  # version in place, the library's latest, the migration files not applied
  # yet and whether the installed SQL functions are the library's.
  class MigrationStatus < ValueObject
    attribute :schema_version
    attribute :latest_version
    attribute :pending, :frozen
    attribute :functions_current

    # Nothing to apply and the functions are current.
    def up_to_date?
      pending.empty? && functions_current ? true : false
    end
  end
end
