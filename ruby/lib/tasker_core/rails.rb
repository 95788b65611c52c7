# frozen_string_literal: true

module TaskerCore
  # The Rails integration (docs/rails.md). TaskerCore::Rails::Railtie is loaded
  # when Rails is (Bundler requires rails before the app's gems); the rest of
  # this namespace is plain Ruby that reaches for Rails only when called, so
  # `require "tasker_core"` works without Rails.
  #
  # Inside this namespace `Rails` is TaskerCore::Rails: the framework is always
  # written ::Rails.
  module Rails
    class << self
      # The app's Tasker Core settings (config.tasker_core, config/tasker.yml
      # and the ActiveRecord database).
      def configuration(app = ::Rails.application)
        Configuration.new(app)
      end

      # Runs Tasker Core's migrations in the app's database. → MigrationResult
      def migrate!(**options)
        Migrator.new(**options).migrate!
      end

      # Runs a Worker (until SIGTERM/SIGINT) under the app: its code eager
      # loaded when the app eager loads (production), handlers wrapped in the
      # app's executor by the Railtie. options: Worker.new's. → Worker#stats
      def run_worker(**options)
        app = ::Rails.application
        app.eager_load! if app&.config&.eager_load
        TaskerCore::Worker.new(**options).run
      end
    end
  end
end
