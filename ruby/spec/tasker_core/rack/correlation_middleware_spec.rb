# frozen_string_literal: true

RSpec.describe TaskerCore::Rack::CorrelationMiddleware do
  uuid_v7 = /\A\h{8}-\h{4}-7\h{3}-[89ab]\h{3}-\h{12}\z/

  let(:seen) { {} }
  let(:headers) { { "Content-Type" => "text/plain" } }
  let(:app) do
    lambda do |env|
      seen[:id] = TaskerCore::Correlation.id
      seen[:env] = env["tasker_core.correlation_id"]
      [200, headers, ["ok"]]
    end
  end
  let(:middleware) { described_class.new(app) }

  it "uses a well-formed incoming X-Correlation-ID" do
    status, response_headers, body = middleware.call("HTTP_X_CORRELATION_ID" => "req-42.a_b")
    expect([status, body]).to eq([200, ["ok"]])
    expect(seen).to eq(id: "req-42.a_b", env: "req-42.a_b")
    expect(response_headers).to eq("Content-Type" => "text/plain", "X-Correlation-ID" => "req-42.a_b")
    expect(TaskerCore::Correlation.id).to be_nil
  end

  it "uses an incoming UUID" do
    id = TaskerCore::Correlation.generate
    _, response_headers, = middleware.call("HTTP_X_CORRELATION_ID" => id)
    expect(seen[:id]).to eq(id)
    expect(response_headers["X-Correlation-ID"]).to eq(id)
  end

  it "generates a UUIDv7 without the header" do
    env = {}
    _, response_headers, = middleware.call(env)
    expect(seen[:id]).to match(uuid_v7)
    expect(env["tasker_core.correlation_id"]).to eq(seen[:id])
    expect(response_headers["X-Correlation-ID"]).to eq(seen[:id])
  end

  ["abc\r\nSet-Cookie: x=1", "abc\n", "", "a" * 129, "<script>", "id with space"].each do |bad|
    it "replaces the malicious or malformed header #{bad.inspect[0, 30]} with a generated id" do
      _, response_headers, = middleware.call("HTTP_X_CORRELATION_ID" => bad)
      expect(seen[:id]).to match(uuid_v7)
      expect(response_headers["X-Correlation-ID"]).to eq(seen[:id])
      expect(response_headers.values.join).not_to include("\n")
    end
  end

  it "copies frozen response headers" do
    frozen = { "Content-Type" => "text/plain" }.freeze
    app = ->(_env) { [204, frozen, []] }
    _, response_headers, = described_class.new(app).call("HTTP_X_CORRELATION_ID" => "r1")
    expect(response_headers).to eq("Content-Type" => "text/plain", "X-Correlation-ID" => "r1")
    expect(frozen).not_to have_key("X-Correlation-ID")
  end

  it "restores the previous id when the app raises" do
    app = ->(_env) { raise "boom" }
    TaskerCore::Correlation.with("outer") do
      expect { described_class.new(app).call({}) }.to raise_error(RuntimeError, "boom")
      expect(TaskerCore::Correlation.id).to eq("outer")
    end
  end
end
