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

  desc "Pre-flight for adopting a tasker-engine database: what migrating would change, and what blocks it (writes nothing)"
  task doctor: :environment do
    report = TaskerCore.client.adoption_report
    puts report.to_text
    exit(1) unless report.ready_to_adopt? || report.up_to_date?
  end

  desc "Run a Tasker Core worker in the app's environment until SIGTERM/SIGINT (settings: docs/configuration.md)"
  task worker: :environment do
    stats = TaskerCore::Rails.run_worker
    puts "Tasker Core worker stopped: #{stats.inspect}"
  end
end
