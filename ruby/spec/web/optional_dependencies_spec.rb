# frozen_string_literal: true

# The gem does not need rack, erubi or graphql: `require "tasker_core"` loads
# none of them, and without graphql-ruby the web still runs and /graphql says
# what is missing. Each case runs in a fresh Ruby where those requires fail.
RSpec.describe "TaskerCore::Web's optional dependencies" do
  let(:lib) { File.expand_path("../../lib", __dir__) }

  # Ruby code run with +missing+ gems made unloadable; → [stdout, success?]
  def ruby_without(missing, code)
    prelude = <<~RUBY
      MISSING = #{missing.inspect}
      module Kernel
        alias_method :__tasker_spec_require, :require
        def require(name)
          raise LoadError, "cannot load such file -- \#{name}" if MISSING.any? { |m| name == m || name.start_with?("\#{m}/") }

          __tasker_spec_require(name)
        end
      end
      $LOAD_PATH.unshift(#{lib.inspect})
    RUBY
    out = IO.popen(["ruby", "-e", prelude + code], err: File::NULL, &:read)
    [out, $?.success?]
  end

  it "loads the gem without rack, erubi or graphql, and loads none of them" do
    out, ok = ruby_without(%w[rack erubi graphql], <<~RUBY)
      require "tasker_core"
      puts TaskerCore::Client.instance_method(:list_tasks).owner
      puts $LOADED_FEATURES.grep(%r{/(rack|erubi|graphql)(/|\\.rb)}).grep_v(%r{/tasker_core/}).size
      begin
        require "tasker_core/web"
      rescue LoadError => e
        puts e.message
      end
    RUBY
    expect(ok).to be(true), out
    lines = out.lines.map(&:chomp)
    expect(lines[0]).to eq("TaskerCore::Client::TaskQueries")
    expect(lines[1]).to eq("0")
    expect(lines[2]).to include("TaskerCore::Web needs the rack and erubi gems")
  end

  it "serves the web without graphql-ruby, /graphql answering 501 with what is missing" do
    out, ok = ruby_without(%w[graphql], <<~RUBY)
      require "tasker_core/web"
      require "rack/mock"
      app = TaskerCore::Web.new(client: Object.new)
      res = Rack::MockRequest.new(app).post("/graphql", "CONTENT_TYPE" => "application/json", input: '{"query":"{ health { totalTasks } }"}')
      puts res.status
      puts JSON.parse(res.body)["error"]["message"]
      puts Rack::MockRequest.new(app).get("/openapi.json").status
      begin
        require "tasker_core/web/graphql"
      rescue LoadError => e
        puts e.message
      end
    RUBY
    expect(ok).to be(true), out
    lines = out.lines.map(&:chomp)
    expect(lines[0]).to eq("501")
    expect(lines[1]).to include("graphql-ruby").and include("ruby-graphql")
    expect(lines[2]).to eq("200")
    expect(lines[3]).to include("needs graphql-ruby")
  end
end
