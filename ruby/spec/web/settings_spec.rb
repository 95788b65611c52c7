# frozen_string_literal: true

RSpec.describe TaskerCore::Web::Settings do
  it "is documented in docs/web.md, every setting with its default" do
    doc = File.read(File.expand_path("../../../docs/web.md", __dir__))
    rows = doc.scan(/^\| `(\w+)` \| `([^`]*)` \| (.*) \|$/).to_h { |name, default, what| [name.to_sym, [default, what]] }
    expected = described_class::DEFAULTS.to_h { |name, (default, what)| [name, [default.inspect, what]] }
    expect(rows).to eq(expected)
  end

  it "refuses unknown settings and bad values" do
    expect { described_class.new(colour: "red") }.to raise_error(ArgumentError, /colour/)
    expect { TaskerCore::Web.new(authorize: "yes") }.to raise_error(ArgumentError, /authorize/)
    expect { TaskerCore::Web.new(poll_interval_ms: -1) }.to raise_error(ArgumentError, /poll_interval_ms/)
    expect { TaskerCore::Web.new(page_size: 0) }.to raise_error(ArgumentError, /page_size/)
  end

  it "configures the class used as a mounted app" do
    before = TaskerCore::Web.settings.title
    TaskerCore::Web.configure { |c| c.title = "Ops <b>" }
    response = Rack::MockRequest.new(TaskerCore::Web).get("/assets/dashboard.css")
    expect(response.status).to eq(200)
    expect(TaskerCore::Web.settings.title).to eq("Ops <b>")
  ensure
    TaskerCore::Web.configure { |c| c.title = before }
  end
end
