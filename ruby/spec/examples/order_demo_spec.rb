# frozen_string_literal: true

# The demo `make demo` runs: it must work, and say what happened.
RSpec.describe "examples/order_demo.rb", :integration do
  demo = File.expand_path("../../examples/order_demo.rb", __dir__)
  # Runs the file itself, as `ruby ruby/examples/order_demo.rb` does.
  let(:launcher) { "require 'rbconfig'; exec(RbConfig.ruby, #{demo.inspect})" }

  it "runs the order workflow to completion, printing a line per transition and a summary" do
    schema = TaskerCoreSpec::Database.new_schema
    result = run_ruby(launcher, require_gem: false, timeout: 120,
                      env: { "DATABASE_URL" => TaskerCoreSpec::Database.url, "TASKER_DEMO_SCHEMA" => schema })
    expect(result).to be_success, result.describe
    out = result.stdout
    expect(out).not_to include("\e[") # not a terminal: no colours
    %w[validate_cart reserve_inventory create_order send_confirmation].each do |step|
      expect(out).to match(/#{step}\s+in_progress\s+attempt 1/).and match(/#{step}\s+complete\s+attempt 1/)
    end
    expect(out).to match(/process_payment\s+error\s+attempt 1\/3\s+RetryableError: payment gateway timed out/)
    expect(out).to match(/process_payment\s+complete\s+attempt 2\/3/)
    expect(out).to match(/process_payment\s+complete\s+attempts 2/)
    expect(out).to include("level 1: process_payment ∥ reserve_inventory")
    expect(out).to include("critical path: validate_cart → process_payment → create_order → send_confirmation")
    expect(out).to match(/task \d+: complete \(all_complete\) in \d+\.\d+s/)
    expect(out).to include("overlapped: yes")
  end

  it "exits 2 without DATABASE_URL" do
    result = run_ruby(launcher, require_gem: false, env: { "DATABASE_URL" => "" })
    expect(result.exitstatus).to eq(2)
    expect(result.stderr).to include("set DATABASE_URL")
  end
end
