# frozen_string_literal: true

RSpec.describe TaskerCore::TaskExecutionContext do
  def context(status, health = "healthy", **extra)
    described_class.from_h({ "task_id" => 2**62, "execution_status" => status, "health_status" => health,
                             "next_retry_at" => nil }.merge(extra.transform_keys(&:to_s)))
  end

  {
    "has_ready_steps" => %i[has_ready_steps? ready?],
    "processing" => %i[processing?],
    "blocked_by_failures" => %i[blocked?],
    "all_complete" => %i[complete?],
    "waiting_for_dependencies" => %i[waiting?]
  }.each do |status, predicates|
    it "answers #{predicates.join(', ')} for #{status} and no other status predicate" do
      object = context(status)
      all = %i[has_ready_steps? ready? processing? blocked? complete? waiting?]
      predicates.each { |p| expect(object.public_send(p)).to be(true), p.to_s }
      (all - predicates).each { |p| expect(object.public_send(p)).to be(false), p.to_s }
    end
  end

  it "is healthy only when health_status is healthy" do
    expect(context("processing", "healthy")).to be_healthy
    expect(context("processing", "recovering")).not_to be_healthy
  end

  it "keeps ids exact and parses next_retry_at" do
    object = context("waiting_for_dependencies", "recovering", next_retry_at: "2030-01-02T03:04:05Z")
    expect(object.task_id).to eq(2**62)
    expect(object.next_retry_at).to eq(Time.utc(2030, 1, 2, 3, 4, 5))
  end
end
