# frozen_string_literal: true

class CreateVisits < ActiveRecord::Migration[6.1]
  def change
    create_table :visits do |t|
      t.bigint :task_id, null: false
      t.string :step_name, null: false
      t.timestamps
    end
  end
end
