# frozen_string_literal: true

RSpec.describe TaskerCore::StepHandler::Sequence do
  subject(:sequence) { described_class.new("validate_cart" => { "total_cents" => 4599 }, "reserve" => nil) }

  it "gives the results of completed steps by name (String or Symbol)" do
    expect(sequence["validate_cart"]).to eq("total_cents" => 4599)
    expect(sequence[:validate_cart]).to eq("total_cents" => 4599)
    expect(sequence["missing"]).to be_nil
    expect(sequence.names).to eq(%w[validate_cart reserve])
    expect(sequence).to be_key("reserve")
    expect(sequence).not_to be_completed("missing")
    expect(sequence.size).to eq(2)
    expect(sequence.map(&:first)).to eq(%w[validate_cart reserve])
  end

  it "raises a KeyError naming the completed steps when fetching one that is not there" do
    expect { sequence.fetch("create_order") }
      .to raise_error(KeyError, /"create_order" has no results.*completed: validate_cart, reserve/)
    expect(sequence.fetch("create_order", :none)).to eq(:none)
  end

  it "is frozen all the way down" do
    expect(sequence).to be_frozen
    expect(sequence["validate_cart"]).to be_frozen
    expect(described_class.new(nil)).to be_empty
  end
end
