# frozen_string_literal: true

require "rails/railtie"

module TaskerCore
  module Rails
    # Tasker Core in a Rails app (docs/rails.md):
    # - config.tasker_core (ActiveSupport::OrderedOptions) and config/tasker.yml
    #   (ERB, per-environment sections) configure TaskerCore.client; without a
    #   URL it uses the app's ActiveRecord database, in the schema "tasker";
    # - TaskerCore.logger is Rails.logger;
    # - every handler runs inside Rails.application.executor (the reloader in
    #   development), so handlers use ActiveRecord without holding connections
    #   and pick up edited code; handler classes are autoloaded (Zeitwerk
    #   names, resolved when a step runs);
    # - events dispatched in the process go to ActiveSupport::Notifications
    #   (Events::ActiveSupportBridge);
    # - rake tasker_core:migrate, :status, :worker, and Tasker Core's migrator
    #   after db:schema:load / db:test:prepare (SchemaLoadHook);
    # - generators tasker_core:install and tasker_core:upgrade.
    # Nothing here calls the native library at boot: the client is created on
    # first use, in the process (a forked web worker) that uses it.
    class Railtie < ::Rails::Railtie
      config.tasker_core = ActiveSupport::OrderedOptions.new

      initializer "tasker_core.logger", after: :initialize_logger do
        TaskerCore.logger = ::Rails.logger if TaskerCore.respond_to?(:logger=) && ::Rails.logger
      end

      initializer "tasker_core.client_options" do |app|
        TaskerCore.client_options = -> { Configuration.new(app).client_options }
      end

      initializer "tasker_core.handler_wrapper" do |app|
        configuration = Configuration.new(app)
        TaskerCore.handler_wrapper = (HandlerWrapper.new(app, reload: configuration.reload_handlers?) if configuration.wrap_handlers?)
      end

      rake_tasks do
        load File.expand_path("tasks.rake", __dir__)
        if defined?(::ActiveRecord::Tasks::DatabaseTasks)
          tasks = ::ActiveRecord::Tasks::DatabaseTasks.singleton_class
          tasks.prepend(SchemaLoadHook) unless tasks.include?(SchemaLoadHook)
        end
      end
    end
  end
end
