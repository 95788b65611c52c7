# frozen_string_literal: true

# ruby/spec/rails/worker_spec.rb: the names of the Tasker Core events this
# process sees through ActiveSupport::Notifications, one a line.
if (path = ENV["SPEC_NOTIFICATIONS_LOG"])
  lock = Mutex.new
  ActiveSupport::Notifications.subscribe(/\A(step|task|workflow|observability)\./) do |name, _start, _finish, _id, payload|
    lock.synchronize { File.open(path, "a") { |f| f.puts("#{name} #{payload['task_id']}") } }
  end
end
