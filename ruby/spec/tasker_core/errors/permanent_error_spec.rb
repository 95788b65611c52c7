# frozen_string_literal: true

RSpec.describe TaskerCore::PermanentError do
  it "carries error_code and context" do
    error = described_class.new("card declined", error_code: "CARD_DECLINED", context: { "order" => 7 })
    expect(error).to be_a(TaskerCore::ProceduralError)
    expect(error.message).to eq("card declined")
    expect(error.error_code).to eq("CARD_DECLINED")
    expect(error.context).to eq("order" => 7)
    expect(error.details).to include("error_code" => "CARD_DECLINED")
  end

  it "can be raised and rescued as a TaskerCore::Error" do
    expect { raise described_class.new("no", error_code: "X") }.to raise_error(TaskerCore::Error, "no")
  end
end
