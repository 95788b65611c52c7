# frozen_string_literal: true

RSpec.describe TaskerCore::ValueObject do
  let(:klass) do
    Class.new(described_class) do
      def self.name = "Sample"
      attribute :id
      attribute :at, :time
      attribute :kind, :symbol
      attribute :data, :frozen
    end
  end

  it "builds from string keys, converting timestamps to UTC Times and keeping big integers exact" do
    object = klass.from_h("id" => 2**62, "at" => "2026-11-25T17:00:00.123456Z", "kind" => "ready",
                          "data" => { "a" => [1, { "b" => "c" }] }, "ignored" => true)
    expect(object.id).to eq(4_611_686_018_427_387_904)
    expect(object.id).to be_a(Integer)
    expect(object.at).to eq(Time.utc(2026, 11, 25, 17, 0, Rational(123_456, 1_000_000)))
    expect(object.at).to be_utc
    expect(object.at.usec).to eq(123_456)
    expect(object.kind).to eq(:ready)
    expect(object.data).to eq("a" => [1, { "b" => "c" }])
  end

  it "converts an offset timestamp to UTC" do
    expect(klass.from_h("at" => "2026-11-25T18:00:00+01:00").at).to eq(Time.utc(2026, 11, 25, 17))
  end

  it "keeps nil as nil" do
    object = klass.from_h({})
    expect(object.to_h).to eq(id: nil, at: nil, kind: nil, data: nil)
  end

  it "is immutable, deeply" do
    object = klass.from_h("data" => { "a" => ["x"] })
    expect(object).to be_frozen
    expect(object.data).to be_frozen
    expect(object.data["a"]).to be_frozen
    expect(object.data["a"].first).to be_frozen
    expect { object.instance_variable_set(:@id, 1) }.to raise_error(FrozenError)
  end

  it "compares by value" do
    expect(klass.from_h("id" => 1)).to eq(klass.from_h("id" => 1))
    expect(klass.from_h("id" => 1)).not_to eq(klass.from_h("id" => 2))
    expect(klass.from_h("id" => 1).hash).to eq(klass.from_h("id" => 1).hash)
  end

  it "rejects unknown attributes in new and non-hashes in from_h" do
    expect { klass.new(nope: 1) }.to raise_error(ArgumentError, /nope/)
    expect { klass.from_h([]) }.to raise_error(TypeError)
  end

  it "raises on a malformed timestamp rather than guessing" do
    expect { klass.from_h("at" => "yesterday") }.to raise_error(ArgumentError)
  end
end
