# frozen_string_literal: true

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "tasker_core"

require "json"
require "securerandom"
require "timeout"

Dir[File.join(__dir__, "support", "**", "*.rb")].sort.each { |file| require file }

RSpec.configure do |config|
  config.expect_with(:rspec) { |c| c.syntax = :expect }
  config.mock_with(:rspec) { |c| c.verify_partial_doubles = true }
  config.disable_monkey_patching!
  config.order = :random
  Kernel.srand(config.seed)

  config.extend TaskerCoreSpec::SchemaMacros
  config.include TaskerCoreSpec::Workflows
  config.include TaskerCoreSpec::Subprocess

  # No silent skipping: without the library every example fails, saying why.
  config.before(:suite) do
    begin
      TaskerCore.library_path
    rescue TaskerCore::FFIError => e
      raise "libtasker_core.so is missing: run `make lib` in #{File.expand_path('../..', __dir__)} " \
            "(or `rake compile` in ruby/). #{e.message}"
    end
    TaskerCoreSpec::Database.prepare!
  end

  config.after(:suite) { TaskerCoreSpec::Database.drop_schemas! }
end
