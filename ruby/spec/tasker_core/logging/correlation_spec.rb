# frozen_string_literal: true

RSpec.describe TaskerCore::Correlation do
  uuid_v7 = /\A\h{8}-\h{4}-7\h{3}-[89ab]\h{3}-\h{12}\z/

  it "has no id outside #with" do
    expect(described_class.id).to be_nil
    expect(described_class.headers).to eq({})
  end

  it "nests and restores the previous id" do
    seen = []
    described_class.with("outer") do
      seen << described_class.id
      described_class.with("inner") { seen << described_class.id }
      seen << described_class.id
    end
    seen << described_class.id
    expect(seen).to eq(["outer", "inner", "outer", nil])
  end

  it "restores the previous id when the block raises" do
    described_class.with("outer") do
      expect { described_class.with("inner") { raise ArgumentError, "boom" } }.to raise_error(ArgumentError, "boom")
      expect(described_class.id).to eq("outer")
    end
    expect(described_class.id).to be_nil
  end

  it "returns the block's value" do
    expect(described_class.with("x") { 42 }).to eq(42)
  end

  it "keeps one id per thread" do
    ready = Queue.new
    go = Queue.new
    threads = %w[a b].map do |id|
      Thread.new do
        described_class.with(id) do
          ready << true
          go.pop # both threads are inside #with at once
          described_class.id
        end
      end
    end
    2.times { ready.pop }
    expect(described_class.id).to be_nil
    2.times { go << true }
    expect(threads.map(&:value)).to eq(%w[a b])
  end

  it "gives the outgoing HTTP headers" do
    described_class.with("abc") { expect(described_class.headers).to eq("X-Correlation-ID" => "abc") }
    expect(described_class.header_name).to eq("X-Correlation-ID")
  end

  describe ".generate" do
    it "makes UUIDv7 strings carrying the time in milliseconds" do
      before = (Time.now.to_f * 1000).floor
      id = described_class.generate
      after = (Time.now.to_f * 1000).floor
      expect(id).to match(uuid_v7)
      expect(id.delete("-")[0, 12].to_i(16)).to be_between(before, after)
      expect(described_class.uuid?(id)).to be(true)
    end

    it "makes unique ids" do
      ids = Array.new(1000) { described_class.generate }
      expect(ids.uniq.size).to eq(1000)
      expect(ids).to all(match(uuid_v7))
    end

    it "makes ids that sort in time order" do
      ids = Array.new(5) do
        id = described_class.generate
        sleep 0.002
        id
      end
      expect(ids.sort).to eq(ids)
      expect(described_class.generate(1)).to start_with("00000000-0001-7")
      expect(described_class.generate(0x1234_5678_9abc)).to start_with("12345678-9abc-7")
    end
  end
end
