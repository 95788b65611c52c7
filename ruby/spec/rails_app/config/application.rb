# frozen_string_literal: true

require_relative "boot"

require "rails"
require "active_record/railtie"
require "action_controller/railtie"
require "tasker_core"

module TaskerRailsApp
  # A minimal API app for the gem's Rails specs (ruby/spec/rails/).
  class Application < Rails::Application
    config.load_defaults 6.1
    config.api_only = true
    config.eager_load = false
    config.log_level = :debug
    # The negative control of the connection-pool spec runs handlers unwrapped.
    config.tasker_core.wrap_handlers = false if ENV["SPEC_UNWRAPPED_HANDLERS"] == "1"
  end
end
