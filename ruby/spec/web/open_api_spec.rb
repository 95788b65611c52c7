# frozen_string_literal: true

# /openapi.json against the routes: every JSON route is documented, every
# documented operation is a route that answers (not 404/405) for real ids.
RSpec.describe "TaskerCore::Web OpenAPI document" do
  include Rack::Test::Methods
  include TaskerCoreSpec::WebHelpers
  with_tasker_schema

  let(:app) { web_app }

  def document
    get "/openapi.json"
    expect(last_response.status).to eq(200)
    json_response
  end

  it "documents every JSON route with its verb and path parameters, and nothing else" do
    doc = document
    expect(doc["openapi"]).to eq("3.0.3")
    documented = doc["paths"].flat_map { |path, ops| ops.keys.map { |verb| [verb.upcase, path] } }
    routes = TaskerCore::Web.routes.select { |r| r.format == :json }.map { |r| [r.verb, r.openapi_path] }
    expect(documented).to match_array(routes)
    doc["paths"].each do |path, ops|
      ops.each_value do |op|
        names = op["parameters"].select { |p| p["in"] == "path" }.map { |p| p["name"] }
        expect(names).to eq(path.scan(/\{(\w+)\}/).flatten), path
        expect(op["responses"]).to include("200")
      end
    end
  end

  it "gives every operator route a body schema with reason required and the operation's own parameters" do
    doc = document
    TaskerCore::Web::Operation::ALL.each do |op|
      base = op.target == :task ? "/api/tasks/{task_id}" : "/api/steps/{step_id}"
      schema = doc["paths"]["#{base}/#{op.name}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
      expect(schema["required"]).to eq(["reason"])
      expect(schema["properties"].keys).to match_array(%w[reason dry_run idempotency_key] + op.params.keys)
      expect(doc["paths"]["#{base}/#{op.name}"]["post"]["responses"]).to include("403", "409")
    end
  end

  it "has every documented GET answer 200 for existing ids" do
    task = client.create_task(diamond_spec)
    client.register_templates(yaml: "name: oa\nnamespace_name: oa\nversion: 1.0.0\ntask_handler_class: X\n" \
                                    "step_templates:\n  - name: s\n    handler_class: S\n", file: "oa.yaml")
    values = { "task_id" => task.task_id, "step_id" => task.step_id("A"), "namespace" => "oa", "name" => "oa", "version" => "1.0.0" }
    document["paths"].each do |path, ops|
      next unless ops.key?("get")

      get path.gsub(/\{(\w+)\}/) { values.fetch(Regexp.last_match(1)).to_s }
      expect(last_response.status).to eq(200), "GET #{path}: #{last_response.status} #{last_response.body[0, 200]}"
    end
  end

  it "has every documented POST refuse GET (405) and answer a JSON error for a bad body, not 404" do
    task = client.create_task(diamond_spec)
    document["paths"].each do |path, ops|
      next unless ops.key?("post")

      concrete = path.gsub("{task_id}", task.task_id.to_s).gsub("{step_id}", task.step_id("A").to_s)
      get concrete
      expect(last_response.status).to eq(405), concrete
      post concrete, "{}", "CONTENT_TYPE" => "application/json"
      expect(last_response.status).to eq(422), "#{concrete}: #{last_response.status}"
    end
  end

  it "names the mount point as its server" do
    get "/openapi.json", {}, "SCRIPT_NAME" => "/tasker"
    expect(json_response["servers"]).to eq([{ "url" => "/tasker" }])
  end
end
