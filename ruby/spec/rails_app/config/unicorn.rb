# frozen_string_literal: true

# Unicorn with two workers, preloading the app (ruby/spec/rails/fork_servers_spec.rb).
worker_processes 2
preload_app true
listen "127.0.0.1:#{ENV.fetch('SPEC_PORT')}"
timeout 60
