# frozen_string_literal: true

RSpec.describe TaskerCore::Transition do
  it "parses created_at to UTC and freezes metadata" do
    t = described_class.from_h("id" => 1, "to_state" => "in_progress", "metadata" => { "a" => { "b" => 1 } },
                               "created_at" => "2026-11-25T17:00:00.000001Z")
    expect(t.created_at).to eq(Time.utc(2026, 11, 25, 17, 0, 0.000001r))
    expect(t.created_at).to be_utc
    expect(t.metadata).to be_frozen
    expect(t.metadata["a"]).to be_frozen
  end
end
