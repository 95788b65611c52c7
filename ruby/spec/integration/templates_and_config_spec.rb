# frozen_string_literal: true

require "tmpdir"

# Task templates (both YAML formats) and configuration, through the gem.
RSpec.describe "Templates and configuration", :integration do
  with_tasker_schema

  let(:template_dir) { File.expand_path("../../../core/template/testdata", __dir__) }
  let(:good_context) do
    { order_id: 7, customer: { email: "zoe@example.com" }, items: [{ sku: "A-1", quantity: 2 }] }
  end

  it "registers engine and successor templates and creates tasks from them by name, namespace and version" do
    registered = client.register_templates(paths: [File.join(template_dir, "good/order_fulfillment.yaml"),
                                                   File.join(template_dir, "good/data_pipeline.yaml")],
                                           environment: "test")
    expect(registered.map { |t| t["key"] }).to include("ecommerce/order_fulfillment@1.2.0")
    expect(registered.size).to eq(2)

    task = client.create_task_from_template(name: "order_fulfillment", namespace: "ecommerce", version: "1.2.0",
                                            context: good_context)
    expect(task.step_ids.keys).to contain_exactly("validate_order", "reserve_inventory", "charge_payment",
                                                  "ship_order", "notify_customer")
    claimed = client.claim_steps(worker_id: "spec", task_id: task.task_id)
    expect(claimed.map(&:step_name)).to eq(["validate_order"])
    expect(client.task_template(name: "order_fulfillment", namespace: "ecommerce", version: "1.2.0")["format"])
      .to eq("engine")
  end

  it "publishes the custom events a template declares, and only those" do
    client.register_templates(paths: File.join(template_dir, "good/order_fulfillment.yaml"))
    task = client.create_task_from_template(name: "order_fulfillment", namespace: "ecommerce", version: "1.2.0",
                                            context: good_context)
    seq = client.publish_event(task_id: task.task_id, name: "order.fulfilled", payload: { carrier: "DHL" })
    event = client.fetch_events(subscriber: "custom-#{task.task_id}", limit: 100).events.last
    expect([event.name, event.task_seq, event.payload["carrier"]]).to eq(["order.fulfilled", seq, "DHL"])
    expect { client.publish_event(task_id: task.task_id, name: "order.lost") }
      .to raise_error(TaskerCore::ValidationError, /not a custom event/)
  end

  it "refuses a context that fails the template's JSON Schema, listing the failing paths" do
    client.register_templates(paths: File.join(template_dir, "good/order_fulfillment.yaml"))
    expect do
      client.create_task_from_template(name: "order_fulfillment", namespace: "ecommerce", version: "1.2.0",
                                       context: { order_id: 7, customer: {}, items: "none" })
    end.to raise_error(TaskerCore::ValidationError) { |e|
      paths = e.details["errors"].map { |err| err["path"] }
      expect(paths).to include("/customer/email", "/items")
    }
  end

  it "reports broken templates with the file, line and step" do
    expect { client.register_templates(paths: File.join(template_dir, "broken/typo_key.yaml")) }
      .to raise_error(TaskerCore::ValidationError, /typo_key\.yaml:\d+: step "reserve_inventory".*did you mean/)
    expect { client.register_templates(paths: File.join(template_dir, "broken/cycle.yaml")) }
      .to raise_error(TaskerCore::DependencyCycleError, /cycle\.yaml/)
    expect { client.register_templates(yaml: "name: x\nsteps: []\nstep_templates: []\n", file: "both.yaml") }
      .to raise_error(TaskerCore::ValidationError, /both\.yaml/)
  end

  describe "configuration" do
    let(:base) { { database_url: TaskerCoreSpec::Database.url, schema: tasker_schema } }

    def sources(client)
      client.effective_config["values"].to_h { |v| [v["key"], [v["value"], v["source"]]] }
    end

    it "layers defaults < file < environment variables < explicit arguments, and says where each came from" do
      file = File.expand_path("../fixtures/tasker.yml", __dir__)
      previous = ENV.fetch("TASKER_RETRY_BASE_SECONDS", nil)
      ENV["TASKER_RETRY_BASE_SECONDS"] = "3"
      c = TaskerCore::Client.new(**base, config_file: file, environment: "test", retry: { jitter: 0.25 })
      begin
        s = sources(c)
        expect(c.effective_config["environment"]).to eq("test")
        expect(s["execution.lease_seconds"]).to eq([20, "file"])
        expect(s["retry.base_seconds"]).to eq([3, "env"])
        expect(s["retry.jitter"]).to eq([0.25, "explicit"])
        expect(s["queues.namespace_priorities"]).to eq([{ "payments" => 7 }, "file"])
        expect(s["events.batch_size"]).to eq([100, "default"])
        expect(s["database.url"].first).not_to include("secret")
      ensure
        c.close
        previous ? ENV["TASKER_RETRY_BASE_SECONDS"] = previous : ENV.delete("TASKER_RETRY_BASE_SECONDS")
      end
    end

    it "evaluates ERB in the file (as Rails does) before the library reads it" do
      Dir.mktmpdir do |dir|
        path = File.join(dir, "tasker.yml")
        File.write(path, <<~YAML)
          test:
            execution:
              lease_seconds: <%= ENV.fetch("CONFIG_SPEC_LEASE", 25) %>
            retry:
              base_seconds: <%= 1 + 2 %>
        YAML
        c = TaskerCore::Client.new(**base, config_file: path, environment: "test")
        begin
          expect(sources(c)["execution.lease_seconds"]).to eq([25, "file"])
          expect(sources(c)["retry.base_seconds"]).to eq([3, "file"])
          origin = c.effective_config["values"].find { |v| v["key"] == "retry.base_seconds" }["origin"]
          expect(origin).to eq(path)
        ensure
          c.close
        end
        File.write(path, %(test:\n  database:\n    url: <%= ENV.fetch("CONFIG_SPEC_UNSET_URL") %>\n))
        expect { TaskerCore::Client.new(**base, config_file: path, environment: "test") }
          .to raise_error(TaskerCore::ConfigurationError, /#{Regexp.escape(path)}:3: ERB raised KeyError/)
      end
    end

    it "takes host defaults below the file, the environment and explicit values (defaults:, defaults_origin:)" do
      c = TaskerCore::Client.new(schema: tasker_schema, defaults: { "database.url" => TaskerCoreSpec::Database.url,
                                                                    "execution" => { "lease_seconds" => 17 } },
                                 defaults_origin: "spec host", env: {})
      begin
        values = c.effective_config["values"].to_h { |v| [v["key"], v] }
        expect(values["execution.lease_seconds"]).to include("value" => 17, "source" => "default", "origin" => "spec host")
        expect(c.migration_status.pending).to be_empty
      ensure
        c.close
      end
      c = TaskerCore::Client.new(**base, lease_seconds: 12, defaults: { "execution.lease_seconds" => 17 })
      begin
        expect(sources(c)["execution.lease_seconds"]).to eq([12, "explicit"])
      ensure
        c.close
      end
    end

    it "raises ConfigurationError naming the key, the value and what was expected" do
      expect { TaskerCore::Client.new(**base, execution: { lease_secs: 3 }) }
        .to raise_error(TaskerCore::ConfigurationError, /unknown key "execution.lease_secs".*did you mean "execution.lease_seconds"/)
      expect { TaskerCore::Client.new(**base, retry: { jitter: 2 }) }
        .to raise_error(TaskerCore::ConfigurationError) { |e|
          expect(e.details).to include("key" => "retry.jitter", "value" => "2")
          expect(e.message).to include("between 0 and 1")
        }
      Dir.mktmpdir do |dir|
        path = File.join(dir, "tasker.yml")
        File.write(path, "test:\n  database:\n    pool:\n      max_connections: many\n")
        expect { TaskerCore::Client.new(**base, config_file: path, environment: "test") }
          .to raise_error(TaskerCore::ConfigurationError, /#{Regexp.escape(path)}.*max_connections = many/)
      end
    end
  end
end
