# frozen_string_literal: true

module TaskerCore
  # What run_migrations did: the migrations applied by this call, whether the SQL
  # functions were (re)installed, and the schema version now in place.
  class MigrationResult < ValueObject
    attribute :applied, :frozen
    attribute :functions_installed
    attribute :schema_version
  end
end
