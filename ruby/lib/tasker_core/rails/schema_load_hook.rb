# frozen_string_literal: true

module TaskerCore
  module Rails
    # Prepended to ActiveRecord::Tasks::DatabaseTasks by the Railtie: after
    # ActiveRecord loads an app's schema.rb or structure.sql into a database
    # (db:schema:load, db:test:prepare, db:setup, db:reset, db:prepare), Tasker
    # Core's migrator runs in that database when it is the one Tasker Core
    # uses. Tasker Core lives in a schema of its own that the app's dump does
    # not contain (ActiveRecord dumps the search_path schemas), so a test
    # database built from schema.rb gets its tables and SQL functions here.
    # config.tasker_core.migrate_on_schema_load = false turns it off.
    module SchemaLoadHook
      # ActiveRecord's own schema load, then Tasker Core's migrator in that
      # database (SchemaLoadHook.after_load).
      # @param db_config [ActiveRecord::DatabaseConfigurations::DatabaseConfig]
      # @return [Object] what ActiveRecord's load_schema returned
      def load_schema(db_config, *args, **kwargs)
        result = super
        SchemaLoadHook.after_load(db_config)
        result
      end

      # Migrates the database of +db_config+ if Tasker Core uses it. → MigrationResult or nil
      def self.after_load(db_config)
        return nil unless defined?(::Rails) && ::Rails.respond_to?(:application) && ::Rails.application
        return nil unless db_config.respond_to?(:configuration_hash)

        configuration = Configuration.new
        return nil unless configuration.migrate_on_schema_load? && configuration.tasker_database?(db_config)

        result = Migrator.new(configuration: configuration, db_config: db_config).migrate!
        TaskerCore.logger.info("tasker_core: migrated #{db_config.env_name}/#{db_config.name} after its schema load " \
                               "(schema version #{result.schema_version})")
        result
      end
    end
  end
end
