# frozen_string_literal: true

require "yaml"

module TaskerCore
  module Rails
    # A Rails app's Tasker Core settings, in rising precedence:
    # 1. host defaults: the app's ActiveRecord database (DatabaseUrl, unless the
    #    settings below name one), the schema DEFAULT_SCHEMA (Tasker Core's
    #    tables and functions stay out of the app's schema.rb) and
    #    config/tasker/templates (when it exists);
    # 2. config/tasker.yml (ERB evaluated, the Rails.env section);
    # 3. TASKER_* and DATABASE_URL environment variables;
    # 4. config.tasker_core (an ActiveSupport::OrderedOptions) in
    #    config/application.rb or config/environments/*.rb: any Client.new
    #    option (database_url, schema, max_connections, execution: {...}), and
    #    the integration's own RAILTIE_KEYS.
    # Nothing here runs at boot: TaskerCore.client calls #client_options when it
    # creates the process's client.
    class Configuration
      # The schema Tasker Core lives in under Rails unless configured otherwise.
      DEFAULT_SCHEMA = "tasker"
      # Where the generator puts task templates (registered when the client opens).
      TEMPLATES_DIR = "config/tasker/templates"
      # config.tasker_core keys that are the integration's, not the library's:
      # - active_record_database: the database.yml entry whose database Tasker
      #   Core uses when no URL is given (default "primary");
      # - wrap_handlers: run each handler in Rails.application.executor (default true);
      # - reload_handlers: ... in the reloader instead, so edited handlers reload
      #   (default: when the app does not cache classes, i.e. development);
      # - migrate_on_schema_load: run Tasker Core's migrator after db:schema:load
      #   and db:test:prepare load the app's schema (default true).
      RAILTIE_KEYS = %i[active_record_database wrap_handlers reload_handlers migrate_on_schema_load].freeze
      # Explicit settings that name the database.
      URL_KEYS = %w[database_url database.url].freeze

      attr_reader :app

      def initialize(app = ::Rails.application)
        @app = app
      end

      # config.tasker_core as a Hash with symbol keys.
      def settings
        options = app.config.respond_to?(:tasker_core) ? app.config.tasker_core : nil
        (options || {}).to_h.transform_keys(&:to_sym)
      end

      # Client.new's options for the process's client (TaskerCore.client), or
      # for the database of +db_config+ in +environment+ (the migrator's).
      # explicit: settings that win over everything (the migrator's).
      def client_options(db_config: nil, environment: nil, explicit: {})
        environment = (environment || ::Rails.env).to_s
        options = settings.reject { |key, _| RAILTIE_KEYS.include?(key) }
        defaults = { "database.schema" => DEFAULT_SCHEMA }
        templates = app.root&.join(TEMPLATES_DIR)
        defaults["templates.paths"] = [templates.to_s] if templates&.directory?
        origin = "Rails"
        if active_record_database?(environment)
          db_config ||= active_record_db_config(environment)
          if db_config
            defaults["database.url"] = DatabaseUrl.from_active_record(db_config)
            origin = "Rails (ActiveRecord #{db_config.env_name}/#{db_config.name})"
          end
        end
        options.merge(environment: environment, defaults: defaults, defaults_origin: origin).merge(explicit)
      end

      # Whether Tasker Core's database is ActiveRecord's: neither
      # config.tasker_core nor config/tasker.yml's +environment+ section names
      # a URL (DATABASE_URL is ActiveRecord's as well).
      def active_record_database?(environment = ::Rails.env)
        return false unless defined?(::ActiveRecord::Base)
        return false if URL_KEYS.any? { |key| !settings[key.to_sym].to_s.empty? }

        !file_names_database?(environment.to_s)
      end

      # The ActiveRecord database Tasker Core uses in +environment+.
      def active_record_db_config(environment = ::Rails.env)
        name = (settings[:active_record_database] || "primary").to_s
        if environment.to_s == ::Rails.env.to_s && name == "primary" && ::ActiveRecord::Base.respond_to?(:connection_db_config)
          return ::ActiveRecord::Base.connection_db_config
        end

        ::ActiveRecord::Base.configurations.configs_for(env_name: environment.to_s, name: name)
      end

      # Whether +db_config+ is the database Tasker Core uses (its name is
      # active_record_database) and that database is ActiveRecord's.
      def tasker_database?(db_config)
        db_config.name.to_s == (settings[:active_record_database] || "primary").to_s &&
          active_record_database?(db_config.env_name)
      end

      def wrap_handlers?
        settings.fetch(:wrap_handlers, true) ? true : false
      end

      def reload_handlers?
        value = settings[:reload_handlers]
        value.nil? ? !app.config.cache_classes : (value ? true : false)
      end

      def migrate_on_schema_load?
        settings.fetch(:migrate_on_schema_load, true) ? true : false
      end

      # config/tasker.yml, when the app has one.
      def config_file
        path = app.root&.join(Client::DEFAULT_CONFIG_FILE)
        path&.file? ? path : nil
      end

      private

      def file_names_database?(environment)
        path = config_file
        return false unless path

        root = YAML.safe_load(ConfigFile.render(path), aliases: true) || {}
        return false unless root.is_a?(Hash)

        section = root.key?("database") ? root : root[environment]
        return false unless section.is_a?(Hash)

        database = section["database"]
        url = section["database.url"] || (database.is_a?(Hash) ? database["url"] : nil)
        !url.to_s.empty?
      rescue Psych::Exception
        false # the library reports the broken file when the client opens
      end
    end
  end
end
