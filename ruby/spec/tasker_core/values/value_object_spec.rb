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

  describe "from_h, compiled per class" do
    sample = lambda do |converter|
      case converter
      when :time then "2026-11-25T18:00:00.5+01:00"
      when :symbol then "ready"
      when :frozen then { "a" => ["x", { "b" => 1 }] }
      when Proc then nil # nested lists and defaults: each block's own nil case
      else +"text"
      end
    end

    it "builds for every value class the object new builds from the converted fields" do
      classes = ObjectSpace.each_object(Class).select { |c| c < described_class && c.name&.start_with?("TaskerCore::") }
      expect(classes.size).to be > 20
      classes.each do |c|
        input = c.attribute_names.to_h { |a| [a.to_s, sample.call(c.converters[a])] }
        expected = c.new(**c.attribute_names.to_h { |a| [a, c.send(:convert, c.converters[a], input[a.to_s])] })
        built = c.from_h(input)
        expect(built).to eq(expected), "#{c}: #{built.inspect} != #{expected.inspect}"
        expect(built.to_h).to eq(expected.to_h)
        expect(built).to be_frozen
        c.attribute_names.each do |a|
          value = built.public_send(a)
          expect(value).to be_frozen, "#{c}##{a} is not frozen" unless value.is_a?(Time) # as before: Times are not frozen
          expect(value).not_to equal(input[a.to_s]), "#{c}##{a} shares the caller's String" if value.is_a?(String)
        end
      end
    end

    it "compiles a class that keeps ValueObject#initialize, and not one with its own" do
      klass.from_h({})
      expect(klass.instance_variable_get(:@builder)).to be_a(Proc)
      TaskerCore::Event.from_h({})
      expect(TaskerCore::Event.instance_variable_get(:@builder)).to eq(:generic)
      expect(TaskerCore::Event.from_h("name" => "task.completed").durable).to be(true)
    end

    it "reads symbol keys when the string key is absent, and a present nil wins" do
      expect(klass.from_h(id: 7, kind: "ready").to_h).to include(id: 7, kind: :ready)
      expect(klass.from_h("id" => nil, :id => 7).id).to be_nil
    end

    it "keeps a frozen String as is and copies a mutable one" do
      frozen = "x"
      mutable = +"y"
      expect(klass.from_h("id" => frozen).id).to equal(frozen)
      built = klass.from_h("id" => mutable)
      mutable << "z"
      expect(built.id).to eq("y")
    end

    it "compiles again when a field is declared after the first build" do
      klass.from_h("id" => 1)
      klass.attribute :late
      expect(klass.from_h("id" => 1, "late" => 2).late).to eq(2)
    end
  end
end
