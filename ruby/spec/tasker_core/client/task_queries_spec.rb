# frozen_string_literal: true

RSpec.describe TaskerCore::Client::TaskQueries do
  with_tasker_schema

  let(:name) { unique_name("listed") }
  let!(:tasks) { Array.new(3) { |i| client.create_task(diamond_spec(name, context: { "i" => i })) } }

  describe "#list_tasks" do
    it "pages newest first with a cursor, and oldest first on request" do
      first = client.list_tasks(name: name, limit: 2)
      expect(first).to be_a(TaskerCore::TaskPage)
      expect(first.tasks.map(&:task_id)).to eq([tasks[2].task_id, tasks[1].task_id])
      expect(first.last_page?).to be(false)
      rest = client.list_tasks(name: name, limit: 2, cursor: first.next_cursor)
      expect(rest.tasks.map(&:task_id)).to eq([tasks[0].task_id])
      expect(rest.last_page?).to be(true)

      asc = client.list_tasks(name: name, sort: :created_asc)
      expect(asc.tasks.map(&:task_id)).to eq(tasks.map(&:task_id))
      summary = asc.tasks.first
      expect(summary).to be_a(TaskerCore::TaskSummary)
      expect(summary.state).to eq("pending")
      expect(summary.namespace).to eq(TaskerCoreSpec::Workflows::NAMESPACE)
      expect(summary.created_at).to be_a(Time)
      expect(summary.key).to eq("rspec/#{name}@0.1.0")
    end

    it "filters by state (one or several) and creation range" do
      client.transition_task(tasks[1].task_id, "in_progress")
      expect(client.list_tasks(name: name, state: "in_progress").tasks.map(&:task_id)).to eq([tasks[1].task_id])
      expect(client.list_tasks(name: name, state: %w[pending in_progress]).tasks.size).to eq(3)
      expect(client.list_tasks(name: name, created_from: Time.now + 3600).tasks).to be_empty
      expect(client.list_tasks(name: name, created_to: Time.now + 3600).tasks.size).to eq(3)
    end

    it "refuses a bad limit, sort, state or cursor with a ValidationError naming the field" do
      { { limit: 0 } => "limit", { sort: "name" } => "sort", { state: "running" } => "states",
        { cursor: "garbage!" } => "cursor" }.each do |args, field|
        expect { client.list_tasks(**args) }.to raise_error(TaskerCore::ValidationError) { |e|
          expect(e.details["field"]).to eq(field)
        }
      end
    end
  end

  describe "#get_task" do
    it "returns the task with its context and steps, parents and results" do
      task = tasks[0]
      run_steps(client, task.step_id("A"), results: { "v" => 1 })
      detail = client.get_task(task.task_id.to_s)
      expect(detail).to be_a(TaskerCore::TaskDetail)
      expect(detail.context).to eq({ "i" => 0 })
      expect(detail.steps.map(&:name)).to eq(%w[A B C D])
      expect(detail.step("A").results).to eq({ "v" => 1 })
      expect(detail.step("A").current_state).to eq("complete")
      expect(detail.step("D").depends_on).to contain_exactly(task.step_id("B"), task.step_id("C"))
      expect(detail.step("D").error).to be_nil
    end

    it "raises NotFoundError for an unknown task" do
      expect { client.get_task(987_654_321) }.to raise_error(TaskerCore::NotFoundError)
    end
  end

  describe "#task_templates" do
    it "lists registered templates" do
      client.register_templates(yaml: <<~YAML, file: "t.yaml")
        name: #{name}
        namespace_name: listing
        version: 1.2.0
        task_handler_class: Listing
        step_templates:
          - name: one
            handler_class: One
          - name: two
            handler_class: Two
            depends_on_step: one
      YAML
      tpls = client.task_templates(namespace: "listing")
      expect(tpls.map(&:key)).to include("listing/#{name}@1.2.0")
      expect(tpls.find { |t| t.name == name }.step_count).to eq(2)
    end
  end
end
