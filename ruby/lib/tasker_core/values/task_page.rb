# frozen_string_literal: true

module TaskerCore
  # One page of Client#list_tasks: the tasks (TaskSummary) and, unless this is
  # the last page, the cursor of the next one (pass it back as cursor:).
  class TaskPage < ValueObject
    attribute(:tasks) { |rows| Array(rows).map { |row| TaskSummary.from_h(row) }.freeze }
    attribute :next_cursor
    attribute :limit
    attribute :sort

    def last_page?
      next_cursor.nil? || next_cursor.empty?
    end
  end
end
