# frozen_string_literal: true

RSpec.describe TaskerCore::DependencyAnalysis do
  it "turns dependency_levels keys into Integers, exactly" do
    big = 2**62
    analysis = described_class.from_h("has_cycles" => false, "dependency_levels" => { big.to_s => 0, "7" => 1 })
    expect(analysis.dependency_levels).to eq(big => 0, 7 => 1)
    expect(analysis).not_to have_cycles
    expect(analysis).not_to be_cyclic
  end

  it "reports cycles" do
    analysis = described_class.from_h("has_cycles" => true, "cycle" => [1, 2], "cycle_names" => %w[a b],
                                      "dependency_levels" => {})
    expect(analysis).to have_cycles
    expect(analysis).to be_cyclic
    expect(analysis.cycle_names).to eq(%w[a b])
  end
end
