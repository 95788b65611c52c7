# frozen_string_literal: true

require "erb"

module TaskerCore
  module Rails
    # A PostgreSQL URL for the library built from an ActiveRecord database
    # configuration (what GoodJob and Solid Queue connect to): host (a
    # directory is a Unix socket), port, database, username and password
    # (percent-escaped), and the libpq connection options the library takes.
    # Reading the configuration opens no connection.
    class DatabaseUrl
      # Adapters whose databases the library can use.
      ADAPTERS = %w[postgresql postgis].freeze
      # configuration_hash keys passed on as URL query parameters.
      QUERY_KEYS = %i[sslmode sslrootcert sslcert sslkey sslpassword connect_timeout target_session_attrs].freeze

      class << self
        # The URL of +db_config+ (an ActiveRecord::DatabaseConfigurations::DatabaseConfig;
        # default: ActiveRecord::Base.connection_db_config).
        def from_active_record(db_config = nil)
          db_config ||= ::ActiveRecord::Base.connection_db_config
          build(db_config.configuration_hash, name: "#{db_config.env_name}/#{db_config.name}")
        end

        # The URL of a configuration Hash (symbol or string keys). A non-PostgreSQL
        # adapter is a ConfigurationError.
        def build(hash, name: "database")
          h = hash.to_h.transform_keys(&:to_sym)
          adapter = h[:adapter].to_s
          unless ADAPTERS.include?(adapter)
            raise ConfigurationError.new(
              "Tasker Core needs PostgreSQL: the ActiveRecord database #{name} uses the #{adapter.inspect} adapter " \
              "(set config.tasker_core.database_url or database.url in config/tasker.yml)",
              details: { "database" => name, "adapter" => adapter }
            )
          end
          database = h[:database].to_s
          if database.empty?
            raise ConfigurationError.new("the ActiveRecord database #{name} names no database",
                                         details: { "database" => name })
          end

          query = {}
          host = h[:host].to_s
          authority = ""
          user = (h[:username] || h[:user]).to_s
          unless user.empty?
            authority = escape(user)
            password = h[:password].to_s
            authority += ":#{escape(password)}" unless password.empty?
            authority += "@"
          end
          if host.start_with?("/")
            query["host"] = host # a Unix socket directory
          elsif !host.empty?
            authority += host.include?(":") && !host.start_with?("[") ? "[#{host}]" : host
            authority += ":#{Integer(h[:port])}" if h[:port]
          end
          query["port"] = Integer(h[:port]).to_s if h[:port] && (host.empty? || host.start_with?("/"))
          QUERY_KEYS.each { |key| query[key.to_s] = h[key].to_s unless h[key].nil? || h[key].to_s.empty? }
          url = +"postgres://#{authority}/#{escape(database)}"
          url << "?#{query.map { |k, v| "#{k}=#{escape(v)}" }.join('&')}" unless query.empty?
          url
        end

        private

        def escape(value)
          ERB::Util.url_encode(value.to_s)
        end
      end
    end
  end
end
