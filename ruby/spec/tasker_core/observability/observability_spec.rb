# frozen_string_literal: true

require "json"
require "rack"
require "rack/mock"

RSpec.describe TaskerCore::Observability do
  namespace = TaskerCoreSpec::OrchestrationTemplates::NAMESPACE
  request_tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

  describe TaskerCore::Observability::Tracing do
    it "accepts only version-00 traceparents with non-zero ids in lower case" do
      expect(described_class.valid?(request_tp)).to be(true)
      ["00-#{'0' * 32}-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-#{'0' * 16}-01",
       request_tp.upcase, "00-abc-def-01", "#{request_tp}\n", nil, 42].each do |bad|
        expect(described_class.valid?(bad)).to be(false), bad.inspect
      end
    end

    it "makes a valid traceparent current for a block, and restores the previous one" do
      described_class.with(request_tp) do
        expect(described_class.current_traceparent).to eq(request_tp)
        expect(described_class.headers).to eq("traceparent" => request_tp)
        described_class.with("garbage") { expect(described_class.current_traceparent).to be_nil }
        expect(described_class.current_traceparent).to eq(request_tp)
      end
      expect(described_class.current_traceparent).to be_nil
      expect(described_class.sdk?).to be(false) # the suite runs without opentelemetry-ruby
    end

    it "runs a handler under its claimed step's traceparent without the SDK" do
      step = Struct.new(:traceparent).new(request_tp)
      expect(described_class.step_span(step) { described_class.current_traceparent }).to eq(request_tp)
    end
  end

  context "with a client", :integration do
    with_tasker_schema

    before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

    # A Rack app creating a task the way a Rails controller would, behind the
    # gem's middleware.
    def rack_app(client)
      TaskerCore::Rack::CorrelationMiddleware.new(lambda do |_env|
        task = TaskerCore.create_task(name: "linear", namespace: TaskerCoreSpec::OrchestrationTemplates::NAMESPACE,
                                      client: client, context: {})
        [201, { "content-type" => "application/json" }, [JSON.generate("task_id" => task.task_id)]]
      end)
    end

    it "carries a request's traceparent to the task and to each claimed step (no tracing in Go)" do
      res = Rack::MockRequest.new(rack_app(client)).post("/orders", "HTTP_TRACEPARENT" => request_tp)
      expect(res.status).to eq(201)
      task_id = JSON.parse(res.body)["task_id"]
      steps = client.claim_steps(worker_id: "trace-spec", task_id: task_id)
      expect(steps.map(&:traceparent)).to eq([request_tp])
    end

    it "serves this process's metrics in the Prometheus text format" do
      task = TaskerCore.create_task(name: "linear", namespace: namespace, client: client, context: {})
      before = client.metrics_text["text"][/^tasker_steps_completed_total\{namespace="#{namespace}"\} (\d+)/, 1].to_i
      expect(TaskerCore.run_task(task, timeout: 60, client: client)).to be_complete

      app = TaskerCore::Observability::MetricsApp.new(client: client)
      res = Rack::MockRequest.new(app).get("/metrics")
      expect(res.status).to eq(200)
      expect(res.headers["content-type"]).to start_with("text/plain; version=0.0.4")
      after = res.body[/^tasker_steps_completed_total\{namespace="#{namespace}"\} (\d+)/, 1].to_i
      expect(after - before).to eq(3)
      expect(res.body).to match(/^tasker_api_call_duration_seconds_count\{method="claim_steps"\} \d+/)
      expect(res.body).to include("# TYPE tasker_step_duration_seconds histogram")

      expect(Rack::MockRequest.new(app).head("/metrics").body).to eq("")
      expect(Rack::MockRequest.new(app).post("/metrics").status).to eq(405)
    end

    it "answers the health checks with JSON and status codes" do
      app = TaskerCore::Observability::HealthApp.new(client: -> { client })
      live = Rack::MockRequest.new(app).get("/health/live")
      expect([live.status, JSON.parse(live.body)["status"]]).to eq([200, "ok"])
      ready = Rack::MockRequest.new(app).get("/ready", "SCRIPT_NAME" => "/health")
      body = JSON.parse(ready.body)
      expect([ready.status, body["status"]]).to eq([200, "ok"])
      expect(body["checks"]).to include("database" => "ok", "pool" => include("max" => 10))
      status = JSON.parse(Rack::MockRequest.new(app).get("/health/status").body)
      expect(status["checks"]).to include("counts", "backlog", "workers")
      expect(Rack::MockRequest.new(app).get("/health/nope").status).to eq(404)
      expect(client.health("live")).to include("status" => "ok", "http_status" => 200)
      expect { client.health("bogus") }.to raise_error(TaskerCore::ValidationError)
    end
  end

  context "with tracing on in the library", :integration do
    # Spans go to a closed port: export fails quietly, in the background.
    with_tasker_schema(telemetry: { tracing: { enabled: true, endpoint: "http://127.0.0.1:1/v1/traces",
                                               export_timeout_ms: 200 } })

    before(:context) { TaskerCoreSpec::OrchestrationTemplates.register_all }

    it "hands each step the context of its execution span, in the request's trace" do
      app = TaskerCore::Rack::CorrelationMiddleware.new(lambda do |_env|
        task = TaskerCore.create_task(name: "single", namespace: namespace, client: client, context: {})
        [201, {}, [task.task_id.to_s]]
      end)
      task_id = Rack::MockRequest.new(app).post("/", "HTTP_TRACEPARENT" => request_tp).body.to_i
      step = client.claim_steps(worker_id: "trace-spec", task_id: task_id).first
      trace_id = request_tp.split("-")[1]
      expect(step.traceparent.split("-")[1]).to eq(trace_id)
      expect(step.traceparent).not_to eq(request_tp) # a span of its own: the step's
      expect(TaskerCore::Observability::Tracing.valid?(step.traceparent)).to be(true)
    end
  end
end
