# frozen_string_literal: true

module TaskerCoreSpec
  # Example-group macros for groups that use the database.
  module SchemaMacros
    # Gives the group its own schema and a migrated client on it (#client, also
    # #tasker_schema), closed after the group.
    def with_tasker_schema(**options)
      before(:context) do
        TaskerCoreSpec::Database.prepare!
        @tasker_schema = TaskerCoreSpec::Database.new_schema
        @tasker_client = TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url,
                                                schema: @tasker_schema, migrate: true, **options)
      end
      after(:context) { @tasker_client&.close }
      let(:client) { @tasker_client }
      let(:tasker_schema) { @tasker_schema }
    end
  end
end
