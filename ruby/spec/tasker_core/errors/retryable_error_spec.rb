# frozen_string_literal: true

RSpec.describe TaskerCore::RetryableError do
  it "carries retry_after and context" do
    error = described_class.new("rate limited", retry_after: 30, context: { "api" => "x" })
    expect(error).to be_a(TaskerCore::ProceduralError).and be_a(TaskerCore::Error)
    expect(error.message).to eq("rate limited")
    expect(error.retry_after).to eq(30)
    expect(error.context).to eq("api" => "x")
    expect(error.details).to include("retry_after" => 30)
  end

  it "defaults to no retry_after and an empty context" do
    error = described_class.new("again")
    expect(error.retry_after).to be_nil
    expect(error.context).to eq({})
  end

  it "refuses a negative retry_after" do
    expect { described_class.new("x", retry_after: -1) }.to raise_error(ArgumentError, /retry_after/)
  end
end
