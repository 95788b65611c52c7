# frozen_string_literal: true

RSpec.describe TaskerCore::Native do
  before { described_class.load! }

  it "records the pid and path it loaded the library with" do
    expect(described_class).to be_loaded
    expect(described_class.loaded_pid).to eq(Process.pid)
    expect(described_class.loaded_path).to eq(TaskerCore.library_path)
  end

  describe ".noop" do
    it "returns an envelope with the payload's byte count" do
      expect(described_class.noop('{"a":1}')).to eq("ok" => true, "data" => { "bytes" => 7 })
      expect(described_class.noop({ "name" => "Zoë" })).to eq("ok" => true, "data" => { "bytes" => 15 })
    end

    it "frees every string the library returns, exactly once" do
      expect(described_class).to receive(:tasker_free_string).once.and_call_original
      described_class.noop("{}")
    end

    it "frees the string even when it cannot be parsed" do
      allow(described_class).to receive(:parse_envelope).and_raise(TaskerCore::FFIError, "boom")
      expect(described_class).to receive(:tasker_free_string).once.and_call_original
      expect { described_class.noop("{}") }.to raise_error(TaskerCore::FFIError, "boom")
    end
  end

  describe ".version" do
    it "returns the version envelope" do
      envelope = described_class.version
      expect(envelope["ok"]).to be(true)
      expect(envelope["data"].keys).to include("library_version", "schema_version", "abi_version", "go_version")
    end
  end

  describe ".call" do
    it "returns error envelopes instead of raising" do
      envelope = described_class.call(:get_task_execution_context, 0, { task_id: 1 })
      expect(envelope["ok"]).to be(false)
      expect(envelope["error"]["type"]).to eq("ffi_error")
      expect(envelope["error"]["message"]).to be_a(String).and(satisfy { |m| !m.empty? })
    end

    it "parses the answer frozen throughout only when asked (frozen: true)" do
      thawed = described_class.call(:get_task_execution_context, 0, { task_id: 1 })
      frozen = described_class.call(:get_task_execution_context, 0, { task_id: 1 }, frozen: true)
      expect(frozen).to eq(thawed)
      expect([frozen, frozen["error"], frozen["error"]["message"]]).to all(be_frozen)
      expect([thawed, thawed["error"], thawed["error"]["message"]]).to all(satisfy { |v| !v.frozen? })
    end

    it "takes the log lines out of a frozen answer, keeping the rest frozen" do
      delivered = []
      allow(TaskerCore::NativeLog).to receive(:deliver) { |lines, dropped| delivered << [lines, dropped] }
      json = '{"ok":true,"data":{"steps":[{"name":"a"}]},"logs":["{\\"message\\":\\"x\\"}"],"logs_dropped":2}'
      envelope = described_class.send(:parse_envelope, json, true)
      expect(envelope).to eq("ok" => true, "data" => { "steps" => [{ "name" => "a" }] })
      expect(envelope["data"]["steps"][0]["name"]).to be_frozen
      expect(delivered).to eq([[['{"message":"x"}'], 2]])
    end

    it "refuses an operation the contract does not have" do
      expect { described_class.call(:drop_everything, 1, {}) }.to raise_error(ArgumentError, /drop_everything/)
    end

    it "keeps the raw functions private, so no caller skips the fork check or the free" do
      expect(described_class).not_to respond_to(:tasker_noop)
      expect(described_class).not_to respond_to(:get_task_execution_context)
      expect(described_class).not_to respond_to(:tasker_free_string)
    end

    it "attaches every operation of docs/ffi.md" do
      doc = File.read(File.expand_path("../../../docs/ffi.md", __dir__))
      table = doc[/## Operations.*?\n\n(.*?)\n\n/m, 1]
      documented = table.scan(/^\| `(\w+)`(?:, `(\w+)`)?/).flatten.compact.map(&:to_sym)
      expect(documented.size).to be >= 14
      expect(described_class::OPERATIONS).to match_array(documented)
      documented.each do |name|
        envelope = described_class.call(name, 0, {})
        expect(envelope["error"]["type"]).to eq("ffi_error"), "#{name}: #{envelope.inspect}"
      end
    end
  end

  describe ".check_pid!" do
    it "raises ForkError, explaining what to do, in another process" do
      loaded = described_class.loaded_pid
      allow(Process).to receive(:pid).and_return(loaded + 1)
      expect(described_class).not_to receive(:tasker_noop)
      expect { described_class.noop("{}") }.to raise_error(TaskerCore::ForkError) { |e|
        expect(e.message).to include("loaded in process #{loaded} before this process (#{loaded + 1}) was forked")
        expect(e.message).to include("on_worker_boot").and include("after_fork").and include("lazily")
        expect(e.details).to include("loaded_pid" => loaded, "pid" => loaded + 1)
        expect(e.details["loaded_by"]).to be_a(String) # the first caller outside the gem
        expect(e.message).to include("It was loaded by #{e.details['loaded_by']}")
        expect(e).to be_a(TaskerCore::FFIError)
      }
    end

    it "passes in the loading process" do
      expect(described_class.check_pid!).to be_nil
    end
  end

  describe ".release_handle" do
    it "never raises and reports whether the handle was freed" do
      expect(described_class.release_handle(2**63 - 1)).to be(false)
    end
  end
end
