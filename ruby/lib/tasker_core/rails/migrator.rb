# frozen_string_literal: true

module TaskerCore
  module Rails
    # Tasker Core's migrator for a Rails app's database: what the generated
    # Rails migrations, `rake tasker_core:migrate`/`:status` and the
    # schema-load hook call. Each call opens a short-lived Client of its own
    # (the app's settings, no template registration: the tables may not exist
    # yet) and closes it, so the process's TaskerCore.client is left alone.
    class Migrator
      attr_reader :configuration, :db_config, :environment

      # db_config: the ActiveRecord database to migrate (an ActiveRecord
      # DatabaseConfig; default: the one Tasker Core uses in +environment+,
      # default Rails.env). Its URL wins over DATABASE_URL then, since the
      # caller named that database (db:test:prepare runs with the
      # development environment's variables).
      def initialize(configuration: nil, db_config: nil, environment: nil)
        @configuration = configuration || Configuration.new
        @db_config = db_config
        @environment = (environment || db_config&.env_name || ::Rails.env).to_s
      end

      # Creates the schema when missing, applies the pending migrations and
      # (re)installs the SQL functions when they changed. → MigrationResult
      def migrate!
        with_client(&:migrate!)
      end

      # → MigrationStatus
      def status
        with_client(&:migration_status)
      end

      # The schema version, pending migrations, SQL functions and system
      # health, as lines of text (rake tasker_core:status).
      def report
        with_client do |client|
          st = client.migration_status
          values = client.effective_config["values"].to_h { |v| [v["key"], v["value"]] }
          lines = ["Tasker Core #{TaskerCore::VERSION} (#{environment}): database #{values['database.url']}, " \
                   "schema #{values['database.schema'].to_s.empty? ? '(search_path)' : values['database.schema']}"]
          lines << "schema version: #{st.schema_version} (this library's: #{st.latest_version})"
          lines << "pending migrations: #{st.pending.empty? ? 'none' : st.pending.join(', ')}"
          lines << "SQL functions: #{st.functions_current ? 'current' : 'to be installed (run rake tasker_core:migrate)'}"
          lines << health_line(client.system_health) if st.schema_version.positive?
          lines.join("\n")
        end
      end

      # The schema Tasker Core uses ("" for the connection's search_path).
      def schema
        with_client do |client|
          client.effective_config["values"].find { |v| v["key"] == "database.schema" }&.fetch("value").to_s
        end
      end

      # Drops Tasker Core's schema and everything in it, through +connection+
      # (the Rails migration's): the install migration's down. Only a schema of
      # its own in ActiveRecord's database can be dropped so; otherwise
      # ActiveRecord::IrreversibleMigration.
      def drop!(connection)
        name = schema
        if name.empty? || name == "public" || !configuration.active_record_database?(environment)
          raise ::ActiveRecord::IrreversibleMigration,
                "Tasker Core's tables are in #{name.empty? || name == 'public' ? 'the app schema' : 'another database'}; " \
                "drop them by hand (docs/rails.md)"
        end
        connection.execute("DROP SCHEMA IF EXISTS #{connection.quote_table_name(name)} CASCADE")
        name
      end

      # The options of the migrator's clients.
      def client_options
        explicit = { migrate: false, templates: { paths: [] } }
        if db_config && configuration.tasker_database?(db_config)
          explicit[:database_url] = DatabaseUrl.from_active_record(db_config)
        end
        configuration.client_options(db_config: db_config, environment: environment, explicit: explicit)
      end

      private

      def with_client
        client = Client.new(**client_options)
        yield client
      ensure
        client&.close
      end

      def health_line(health)
        "system health: tasks #{health.total_tasks} (pending #{health.pending_tasks}, in progress " \
          "#{health.in_progress_tasks}, complete #{health.complete_tasks}, error #{health.error_tasks}), steps " \
          "#{health.total_steps} (in backoff #{health.steps_in_backoff}, retries exhausted " \
          "#{health.exhausted_retry_steps}), connections #{health.active_connections}/#{health.max_connections}"
      end
    end
  end
end
