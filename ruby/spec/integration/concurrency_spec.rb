# frozen_string_literal: true

# Many Ruby threads share one client; the GVL is released while the library works.
RSpec.describe "Concurrency", :integration do
  with_tasker_schema(max_connections: 16)

  before(:context) do
    c = @tasker_client
    # Three tasks in known states: fresh, half done, done.
    @fresh = c.create_task(diamond_spec)
    @half = c.create_task(diamond_spec)
    run_steps(c, @half.step_id("A"))
    @done = c.create_task(linear_spec)
    %w[A B C D].each { |n| run_steps(c, @done.step_id(n)) }
    @expected = {
      @fresh.task_id => [%w[A], "has_ready_steps", 0],
      @half.task_id => [%w[B C], "has_ready_steps", 1],
      @done.task_id => [[], "all_complete", 4]
    }
  end

  it "gives 16 threads x 500 calls the right answers" do
    tasks = @expected.keys
    threads = Array.new(16) do |t|
      Thread.new do
        wrong = []
        500.times do |i|
          task_id = tasks[(t + i) % tasks.size]
          names, status, completed = @expected.fetch(task_id)
          if i.even?
            context = client.task_execution_context(task_id)
            actual = [context.execution_status, context.completed_steps, context.task_id]
            wrong << [task_id, actual] unless actual == [status, completed, task_id]
          else
            actual = client.viable_steps(task_id).map(&:name).sort
            wrong << [task_id, actual] unless actual == names
          end
        end
        wrong
      end
    end
    wrong = threads.flat_map(&:value)
    expect(wrong).to eq([])
  end

  it "lets other Ruby threads run while a call is inside the library (the GVL is released)" do
    big = client.create_task(wide_spec(300))
    counter = 0
    running = true
    spinner = Thread.new do
      while running
        counter += 1
        Thread.pass
      end
    end
    sleep 0.05 until counter.positive?
    progressed = 200.times.count do
      before = counter
      client.task_execution_context(big.task_id)
      counter > before
    end
    running = false
    spinner.join
    # Holding the GVL, the spinner could only run on the 100 ms timer: a few calls
    # at most would see it move. Releasing it, nearly every call does.
    expect(progressed).to be >= 100
  end

  it "serves calls from many threads on many clients at once" do
    clients = Array.new(4) do
      TaskerCore::Client.new(database_url: TaskerCoreSpec::Database.url, schema: tasker_schema, max_connections: 2)
    end
    results = clients.map do |c|
      Thread.new { Array.new(50) { c.viable_steps(@half.task_id).map(&:name).sort }.uniq }
    end.map(&:value)
    expect(results).to all(eq([%w[B C]]))
  ensure
    clients&.each(&:close)
  end
end
