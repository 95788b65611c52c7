# frozen_string_literal: true

require "open3"
require "uri"

module TaskerCoreSpec
  # The test database: ENV["TASKER_TEST_DATABASE_URL"], or DATABASE_URL (default:
  # local postgres) with its database replaced by tasker_core_test, created with
  # psql when absent. Every example group that needs the database works in its own
  # schema rspec_<hex> (SchemaMacros#with_tasker_schema); the schemas are dropped
  # after the suite.
  module Database
    DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
    TEST_DATABASE = "tasker_core_test"

    @schemas = []
    @lock = Mutex.new

    class << self
      def server_url
        ENV.fetch("DATABASE_URL", nil).then { |u| u.nil? || u.empty? ? DEFAULT_URL : u }
      end

      def url
        explicit = ENV.fetch("TASKER_TEST_DATABASE_URL", nil)
        return explicit unless explicit.nil? || explicit.empty?

        with_database(server_url, TEST_DATABASE)
      end

      # url with its database name replaced (URL or key=value form).
      def with_database(url, name)
        if url.match?(%r{\A[a-z][a-z0-9+.-]*://}i)
          uri = URI.parse(url)
          uri.path = "/#{name}"
          uri.to_s
        elsif url.match?(/(^|\s)dbname=\S+/)
          url.sub(/(^|\s)dbname=\S+/, "\\1dbname=#{name}")
        else
          "#{url} dbname=#{name}"
        end
      end

      def prepare!
        return if @prepared

        unless ENV["TASKER_TEST_DATABASE_URL"].to_s.empty?
          @prepared = true
          return
        end
        exists = psql(server_url, "SELECT 1 FROM pg_database WHERE datname = '#{TEST_DATABASE}'")
        if exists.strip != "1"
          begin
            psql(server_url, "CREATE DATABASE #{TEST_DATABASE}")
          rescue RuntimeError => e
            raise unless e.message.include?("already exists") # a parallel run created it
          end
        end
        @prepared = true
      end

      # A new schema name, remembered for drop_schemas!. The library creates the
      # schema (Client.new(schema:, migrate: true)).
      def new_schema
        name = "rspec_#{SecureRandom.hex(6)}"
        @lock.synchronize { @schemas << name }
        name
      end

      def drop_schemas!
        schemas = @lock.synchronize { @schemas.dup.tap { @schemas.clear } }
        return if schemas.empty?

        # One transaction per schema: dropping hundreds in one would need more
        # locks than max_locks_per_transaction allows.
        schemas.each do |s|
          psql(url, "DROP SCHEMA IF EXISTS #{s} CASCADE")
        rescue StandardError => e
          warn "tasker_core spec: could not drop schema #{s}: #{e.message}"
        end
      end

      # Runs SQL with psql; returns stdout, raises with psql's stderr on failure.
      def psql(db_url, sql)
        out, err, status = Open3.capture3({ "PGCONNECT_TIMEOUT" => "5" }, "psql", "-X", "-w", "-q", "-At",
                                          "-v", "ON_ERROR_STOP=1", "-d", db_url, "-c", sql)
        raise "psql failed (#{status}): #{err}" unless status.success?

        out
      rescue Errno::ENOENT
        raise "psql not found: install the PostgreSQL client (scripts/ensure-deps.sh postgres-client)"
      end
    end
  end
end
