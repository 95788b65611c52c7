# frozen_string_literal: true

# Puma in cluster mode, preloading the app (ruby/spec/rails/fork_servers_spec.rb).
workers 2
threads 1, 4
preload_app!
bind "tcp://127.0.0.1:#{ENV.fetch('SPEC_PORT')}"
environment "test"
