# frozen_string_literal: true

require "rails/generators"
require "rails/generators/active_record"

module TaskerCore
  module Generators
    # rails g tasker_core:upgrade — after updating the gem: a new Rails
    # migration that brings Tasker Core's schema and SQL functions to this
    # version through db:migrate (the migrator applies only what is missing).
    class UpgradeGenerator < ::Rails::Generators::Base
      include ::ActiveRecord::Generators::Migration

      source_root File.expand_path("templates", __dir__)
      desc "Adds a migration that upgrades Tasker Core's schema and SQL functions to the installed gem's version"

      # Adds db/migrate/<name>.rb, the migration that upgrades Tasker Core's schema
      # and SQL functions to this gem's version.
      # @return [void]
      def add_upgrade_migration
        migration_template "upgrade_migration.rb.tt", "db/migrate/#{file_name}.rb",
                           migration_version: migration_version, class_name: class_name
      end

      private

      def version_tag
        TaskerCore::VERSION.tr(".", "_")
      end

      def file_name
        "upgrade_tasker_core_to_#{version_tag}"
      end

      # What Rails expects of the file's name: upgrade_tasker_core_to_0_2_0 → UpgradeTaskerCoreTo020.
      def class_name
        file_name.camelize
      end

      def migration_version
        "[#{ActiveRecord::VERSION::MAJOR}.#{ActiveRecord::VERSION::MINOR}]"
      end
    end
  end
end
