# frozen_string_literal: true

module TaskerCore
  # The result of create_task. created is false when an identical request (the
  # "hash" identity strategy) already made this task; step_ids maps step names to ids.
  class CreatedTask < ValueObject
    attribute :task_id
    attribute :named_task_id
    attribute :correlation_id
    attribute :identity_hash
    attribute :created
    attribute :step_ids, :frozen

    def created?
      created == true
    end

    # The id of the step named +name+ (KeyError if there is none).
    def step_id(name)
      step_ids.fetch(name.to_s)
    end
  end
end
