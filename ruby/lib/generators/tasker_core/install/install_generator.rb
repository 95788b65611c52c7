# frozen_string_literal: true

require "rails/generators"
require "rails/generators/active_record"

module TaskerCore
  # The Rails generators of the gem: `rails g tasker_core:install` and
  # `rails g tasker_core:upgrade`.
  module Generators
    # rails g tasker_core:install — config/tasker.yml, the initializer, a Rails
    # migration that installs Tasker Core's schema through db:migrate, the
    # bin/tasker_worker binstub, an example handler and its task template.
    class InstallGenerator < ::Rails::Generators::Base
      include ::ActiveRecord::Generators::Migration

      source_root File.expand_path("templates", __dir__)
      desc "Installs Tasker Core: config/tasker.yml, an initializer, a migration, bin/tasker_worker and an example workflow"

      # Writes config/tasker.yml and config/initializers/tasker_core.rb.
      # @return [void]
      def create_config
        template "tasker.yml.tt", "config/tasker.yml"
        template "initializer.rb.tt", "config/initializers/tasker_core.rb"
      end

      # Adds db/migrate/..._install_tasker_core.rb, the migration that installs
      # Tasker Core's schema and SQL functions through db:migrate.
      # @return [void]
      def add_install_migration
        migration_template "install_migration.rb.tt", "db/migrate/install_tasker_core.rb",
                           migration_version: migration_version
      end

      # Writes bin/tasker_worker (executable), the worker's entry point.
      # @return [void]
      def create_binstub
        template "tasker_worker.tt", "bin/tasker_worker"
        chmod "bin/tasker_worker", 0o755
      end

      # Writes the example workflow: two handlers under app/handlers/example/ and
      # their task template, config/tasker/templates/example.yml.
      # @return [void]
      def create_example
        template "greet_handler.rb.tt", "app/handlers/example/greet_handler.rb"
        template "record_greeting_handler.rb.tt", "app/handlers/example/record_greeting_handler.rb"
        template "example.yml.tt", "config/tasker/templates/example.yml"
      end

      # Prints what to run next (db:migrate, then bin/tasker_worker).
      # @return [void]
      def show_next_steps
        say "\nTasker Core is installed. Next: bin/rails db:migrate, then bin/tasker_worker (docs/rails.md).", :green
      end

      private

      def migration_version
        "[#{ActiveRecord::VERSION::MAJOR}.#{ActiveRecord::VERSION::MINOR}]"
      end
    end
  end
end
