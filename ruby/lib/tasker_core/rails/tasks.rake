# frozen_string_literal: true

# Loaded by TaskerCore::Rails::Railtie.
namespace :tasker_core do
  desc "Create Tasker Core's schema, apply its migrations and (re)install its SQL functions"
  task migrate: :environment do
    result = TaskerCore::Rails.migrate!
    applied = result.applied.empty? ? "nothing to apply" : "applied #{result.applied.join(', ')}"
    puts "Tasker Core schema version #{result.schema_version}: #{applied}" \
         "#{result.functions_installed ? '; SQL functions installed' : ''}"
  end

  desc "Tasker Core's schema version, pending migrations and system health"
  task status: :environment do
    puts TaskerCore::Rails::Migrator.new.report
  end

  desc "Run a Tasker Core worker in the app's environment until SIGTERM/SIGINT (settings: docs/configuration.md)"
  task worker: :environment do
    stats = TaskerCore::Rails.run_worker
    puts "Tasker Core worker stopped: #{stats.inspect}"
  end
end
