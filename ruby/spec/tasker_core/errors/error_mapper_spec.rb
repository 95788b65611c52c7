# frozen_string_literal: true

RSpec.describe TaskerCore::ErrorMapper do
  # The table of docs/ffi.md: | `type` | meaning | `TaskerCore::Class` ... |
  doc = File.read(File.expand_path("../../../../docs/ffi.md", __dir__))
  documented = doc.scan(/^\|\s*`([a-z_]+)`\s*\|[^|]*\|\s*`TaskerCore::(\w+)`/).to_h

  it "reads the error table of docs/ffi.md" do
    expect(documented.keys).to include("validation_error", "not_found", "cycle_error", "ffi_error")
    expect(documented.size).to be >= 9
  end

  documented.each do |type, class_name|
    it "maps #{type} to TaskerCore::#{class_name} and back" do
      klass = TaskerCore.const_get(class_name)
      expect(described_class.class_for(type)).to eq(klass)
      expect(described_class.type_for(klass)).to eq(type)
      expect(klass.new("x").type).to eq(type)
    end
  end

  it "has no type that docs/ffi.md does not document" do
    expect(described_class::TYPES.keys.sort).to eq(documented.keys.sort)
  end

  it "maps an unknown type to TaskerCore::Error, keeping the type" do
    error = described_class.exception_for("type" => "brand_new_error", "message" => "m", "details" => { "a" => 1 })
    expect(error.class).to eq(TaskerCore::Error)
    expect(error.type).to eq("brand_new_error")
    expect(error.message).to eq("m")
    expect(error.details).to eq("a" => 1)
  end

  it "keeps message and details" do
    error = described_class.exception_for("type" => "not_found", "message" => "task 42 not found",
                                          "details" => { "task_id" => 42 })
    expect(error).to be_a(TaskerCore::NotFoundError).and be_a(TaskerCore::ValidationError)
    expect(error.message).to eq("task 42 not found")
    expect(error.details).to eq("task_id" => 42)
    expect(error.details).to be_frozen
  end

  it "tolerates a missing message or details" do
    error = described_class.exception_for("type" => "database_error")
    expect(error).to be_a(TaskerCore::DatabaseError)
    expect(error.message).to eq("database_error")
    expect(error.details).to eq({})
  end

  it "turns a malformed error into an InternalError" do
    expect(described_class.exception_for("boom")).to be_a(TaskerCore::InternalError)
  end

  it "returns nil for nil" do
    expect(described_class.exception_for(nil)).to be_nil
  end

  it "gives the subclasses outside the table their parent's type" do
    expect(TaskerCore::ForkError.new("x").type).to eq("ffi_error")
    expect(TaskerCore::OrchestrationError.new("x").type).to be_nil
  end
end
