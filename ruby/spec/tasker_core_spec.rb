# frozen_string_literal: true

RSpec.describe TaskerCore do
  describe "loading" do
    it "does not load the native library when the gem is required" do
      result = run_ruby(<<~RUBY)
        print TaskerCore::Native.loaded?.inspect
      RUBY
      expect(result).to be_success, result.describe
      expect(result.stdout).to eq("false")
    end

    it "loads the library on first use, in this process" do
      result = run_ruby(<<~RUBY)
        before = TaskerCore::Native.loaded?
        TaskerCore.version
        print [before, TaskerCore::Native.loaded?, TaskerCore::Native.loaded_pid == Process.pid].inspect
      RUBY
      expect(result).to be_success, result.describe
      expect(result.stdout).to eq("[false, true, true]")
    end

    it "finds the library in the repository's build folder" do
      expected = ENV["TASKER_CORE_LIB"].to_s.empty? ? File.expand_path("../../build/libtasker_core.so", __dir__) : File.expand_path(ENV["TASKER_CORE_LIB"])
      expect(described_class.library_path).to eq(expected)
      expect(File.file?(described_class.library_path)).to be(true)
    end

    it "raises FFIError naming the path and `make lib` when the library cannot be found" do
      result = run_ruby(<<~RUBY, env: { "TASKER_CORE_LIB" => "/nonexistent/libtasker_core.so" })
        begin
          TaskerCore.version
          puts "no error"
        rescue TaskerCore::FFIError => e
          puts e.class, e.message
        end
      RUBY
      expect(result).to be_success, result.describe
      expect(result.stdout).to start_with("TaskerCore::FFIError\n")
      expect(result.stdout).to include("/nonexistent/libtasker_core.so")
      expect(result.stdout).to include("TASKER_CORE_LIB")
    end

    it "without TASKER_CORE_LIB, says to run make lib" do
      result = run_ruby(<<~RUBY)
        module TaskerCore::Native
          def self.library_candidates = ["/nonexistent/a.so"]
        end
        begin
          TaskerCore.library_path
        rescue TaskerCore::FFIError => e
          print e.message
        end
      RUBY
      expect(result).to be_success, result.describe
      expect(result.stdout).to include("make lib")
    end

    it "loads the library from TASKER_CORE_LIB" do
      result = run_ruby(<<~RUBY, env: { "TASKER_CORE_LIB" => described_class.library_path })
        TaskerCore.version
        print TaskerCore::Native.loaded_path
      RUBY
      expect(result).to be_success, result.describe
      expect(result.stdout).to eq(described_class.library_path)
    end
  end

  describe ".version" do
    it "reports the gem's, the library's and the schema's versions" do
      version = described_class.version
      expect(version[:gem_version]).to eq(TaskerCore::VERSION)
      expect(version[:library_version]).to be_a(String).and(satisfy { |v| !v.empty? })
      expect(version[:schema_version]).not_to be_nil
      expect(version).to include(:abi_version, :go_version)
      expect(version[:go_version]).to start_with("go")
      expect(version).to be_frozen
    end
  end

  describe "module structure" do
    lib = File.expand_path("../lib", __dir__)
    acronyms = { "ffi" => "FFI", "graphql" => "GraphQL" }
    camelize = ->(part) { part.split("_").map { |word| acronyms[word] || word.capitalize }.join }
    files = Dir[File.join(lib, "tasker_core", "**", "*.rb")].sort
    # Folders that group files without being a namespace (Zeitwerk's `collapse`):
    # tasker_core/errors/validation_error.rb defines TaskerCore::ValidationError.
    collapsed = TaskerCore::COLLAPSED_DIRS
    # Files that define their constant only when Rails is loaded.
    rails_only = %w[tasker_core/rails/railtie]

    it "has a file per class under lib/tasker_core" do
      expect(files.size).to be > 20
    end

    files.each do |file|
      relative = file.delete_prefix("#{lib}/").delete_suffix(".rb")
      parts = relative.split("/")
      parts = [parts.first, *parts[1..-2].reject { |dir| collapsed.include?(dir) }, parts.last] if parts.size > 2
      nesting = parts.map(&camelize)
      nesting = [*nesting[0..-2], "VERSION"] if relative.end_with?("/version") # the gem convention
      constant = nesting.join("::")

      it "#{relative}.rb defines #{constant} and nothing else" do
        if rails_only.include?(relative)
          # Loaded only when Rails is: checked in a process that requires rails first.
          result = run_ruby(<<~RUBY, require_gem: false)
            require "rails"
            require "tasker_core"
            print Object.const_source_location(#{constant.inspect})&.first.inspect
          RUBY
          expect(result).to be_success, result.describe
          expect(result.stdout).to eq(file.inspect)
        else
          expect(Object.const_defined?(constant)).to be(true), "#{constant} is not defined"
          location = Object.const_source_location(constant)
          expect(location&.first).to eq(file)
        end
        declared = File.read(file).scan(/^\s*(?:class|module)\s+([A-Z]\w*)/).flatten
        declared << File.read(file)[/^\s*(VERSION)\s*=/, 1] if nesting.last == "VERSION"
        expect(declared).to eq(nesting)
      end
    end

    it "defines the error hierarchy of REFERENCE §9 and docs/ffi.md" do
      expect(TaskerCore::Error.superclass).to eq(StandardError)
      %w[ConfigurationError OrchestrationError DatabaseError StateTransitionError ValidationError TimeoutError
         FFIError InternalError ProceduralError PermissionDeniedError].each do |name|
        expect(TaskerCore.const_get(name).superclass).to eq(TaskerCore::Error), name
      end
      expect(TaskerCore::NotFoundError.superclass).to eq(TaskerCore::ValidationError)
      expect(TaskerCore::DependencyCycleError.superclass).to eq(TaskerCore::ValidationError)
      expect(TaskerCore::ForkError.superclass).to eq(TaskerCore::FFIError)
      expect(TaskerCore::RetryableError.superclass).to eq(TaskerCore::ProceduralError)
      expect(TaskerCore::PermanentError.superclass).to eq(TaskerCore::ProceduralError)
    end

    it "loads the Railtie only with Rails: without it, TaskerCore::Rails is plain Ruby and ::Rails stays undefined" do
      result = run_ruby(<<~RUBY)
        print [defined?(::Rails::Railtie).inspect, TaskerCore::Rails.const_defined?(:Railtie, false),
               TaskerCore::Rails::DatabaseUrl.name].inspect
      RUBY
      expect(result).to be_success, result.describe
      expect(result.stdout).to eq('["nil", false, "TaskerCore::Rails::DatabaseUrl"]')
    end

    it "keeps FFI out of every file but native.rb" do
      offenders = files.reject { |f| f.end_with?("/native.rb") }.select { |f| File.read(f).match?(/\bFFI::|ffi_lib|attach_function/) }
      expect(offenders).to be_empty
    end
  end

  describe ".client" do
    with_tasker_schema
    after { described_class.reset_client! }

    it "returns one client per process" do
      config = { database_url: TaskerCoreSpec::Database.url, schema: tasker_schema }
      first = described_class.client(**config)
      expect(described_class.client).to be(first)
      expect(described_class.client(**config)).to be(first)
      expect(first.system_health.total_tasks).to be >= 0
    end

    it "refuses a different configuration once created" do
      described_class.client(database_url: TaskerCoreSpec::Database.url)
      expect { described_class.client(database_url: TaskerCoreSpec::Database.url, max_connections: 2) }
        .to raise_error(ArgumentError, /already configured/)
    end

    it "makes a new client after reset_client!" do
      first = described_class.client(database_url: TaskerCoreSpec::Database.url)
      described_class.reset_client!
      expect(first).to be_closed
      second = described_class.client(database_url: TaskerCoreSpec::Database.url)
      expect(second).not_to be(first)
    end
  end

  describe ".logger" do
    around do |example|
      saved = described_class.instance_variable_get(:@logger)
      described_class.logger = nil
      example.run
    ensure
      described_class.logger = saved
    end

    it "defaults to a WARN logger on $stderr" do
      logger = described_class.logger
      expect(logger).to be_a(Logger)
      expect(logger.level).to eq(Logger::WARN)
      expect(logger.instance_variable_get(:@logdev).dev).to be($stderr)
    end

    it "uses Rails.logger inside Rails" do
      rails_logger = Logger.new(IO::NULL)
      stub_const("Rails", Module.new)
      Rails.define_singleton_method(:logger) { rails_logger }
      expect(described_class.logger).to be(rails_logger)
    end

    it "can be set" do
      mine = Logger.new(IO::NULL)
      described_class.logger = mine
      expect(described_class.logger).to be(mine)
    end
  end
end
