# frozen_string_literal: true

# ruby/spec/rails/fork_servers_spec.rb: a call into Tasker Core while the app
# boots, before Puma (cluster, preload_app!) or Unicorn (preload_app true)
# forks its workers — what an app does with `TaskerCore.client.migrate!` in an
# initializer. The gem must not leave the native library loaded in the
# preloading master (issue 13, point 6).
TaskerCore.client.migrate! if ENV["SPEC_BOOT_CALL"] == "1"
