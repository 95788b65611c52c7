# frozen_string_literal: true

RSpec.describe TaskerCore::EventBatch do
  let(:row) do
    { "event_id" => 12, "task_id" => 3, "task_seq" => 2, "step_id" => 5, "name" => "step.completed",
      "namespace" => "default", "task_name" => "x", "correlation_id" => "01a2141b-1fc7-73ec-9b2d-f87e91e5ea15",
      "payload" => { "step_id" => 5, "from_state" => nil }, "created_at" => "2026-11-25T19:07:31.655288Z" }
  end

  it "builds Event value objects with a UTC Time and a frozen payload, and round-trips for the ack" do
    batch = described_class.from_h("events" => [row], "horizon" => "312444", "drained" => true)
    event = batch.events.first
    expect(event).to be_a(TaskerCore::Event)
    expect(event.created_at).to eq(Time.utc(2026, 11, 25, 19, 7, Rational(31_655_288, 1_000_000)))
    expect(event.created_at).to be_utc
    expect(event.payload).to be_frozen.and eq("step_id" => 5, "from_state" => nil)
    expect([event.name, event.task_seq, event.step_id]).to eq(["step.completed", 2, 5])
    expect(batch).to be_drained
    expect(batch.size).to eq(1)
    expect(batch.to_library_h).to eq("events" => [row], "horizon" => "312444", "drained" => true)
    expect(event).to be_durable
  end

  it "marks its events durable whatever the row says (fetch_events reads only the outbox)" do
    batch = described_class.from_h("events" => [row.merge("durable" => false)], "horizon" => "1", "drained" => false)
    expect(batch.events.first.durable).to be(true)
    expect(batch.to_library_h["events"].first).not_to have_key("durable")
  end
end
