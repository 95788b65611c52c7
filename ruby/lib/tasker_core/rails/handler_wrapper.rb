# frozen_string_literal: true

module TaskerCore
  module Rails
    # TaskerCore.handler_wrapper under Rails: each handler run inside
    # Rails.application.executor.wrap, as Sidekiq and GoodJob run jobs, so the
    # ActiveRecord connection a handler checks out goes back to the pool when
    # it returns (a worker with more handler threads than pool connections does
    # not exhaust the pool), query caches and CurrentAttributes are reset, and
    # errors reach the executor's hooks. With reload: true (development) the
    # reloader wraps instead: a handler edited since the last run is reloaded
    # before the next one, between runs.
    class HandlerWrapper
      attr_reader :app

      def initialize(app, reload:)
        @app = app
        @reload = reload ? true : false
      end

      def reload?
        @reload
      end

      # Runs the block inside the executor (or the reloader) and returns its value.
      def call(&run)
        (@reload ? app.reloader : app.executor).wrap(&run)
      end
    end
  end
end
