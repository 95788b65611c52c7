# frozen_string_literal: true

module TaskerCore
  # The pre-flight report of adopting a tasker-engine database in place
  # (Client#adoption_report, docs/guides/migrating-from-tasker-engine.md): what
  # running the migrations would change in the client's schema, and what stands
  # in the way. Read in one READ ONLY transaction: producing it writes nothing.
  #
  # changes: [{"action", "migration", "table", "column", "name", "rows",
  # "detail"}] — action one of apply_migration, create_table, add_column,
  # convert_timestamp, set_default, backfill, create_index, create_function,
  # replace_function, install_function. blockers / warnings: [{"kind",
  # "message", "table", "column", "object", "count"}]. tables: [{"name",
  # "present", "managed", "rows", "bytes"}]. Absent keys are absent.
  class AdoptionReport < ValueObject
    attribute :schema
    attribute :engine_database
    attribute :schema_version
    attribute :target_version
    attribute :ready_to_adopt
    attribute :up_to_date
    attribute(:tables) { |rows| ValueObject.deep_freeze(Array(rows)) }
    attribute(:changes) { |rows| ValueObject.deep_freeze(Array(rows)) }
    attribute(:blockers) { |rows| ValueObject.deep_freeze(Array(rows)) }
    attribute(:warnings) { |rows| ValueObject.deep_freeze(Array(rows)) }
    attribute :steps_without_transitions
    attribute :tasks_without_transitions
    attribute(:other_functions) { |rows| ValueObject.deep_freeze(Array(rows)) }

    # No blocker: running the migrations will succeed and lose nothing.
    def ready_to_adopt?
      ready_to_adopt == true
    end

    # Nothing left to change: the schema is Tasker Core's, at this library's version.
    def up_to_date?
      up_to_date == true
    end

    # tasker-engine's tables are there and Tasker Core never migrated the schema.
    def engine_database?
      engine_database == true
    end

    # The changes of one action ("convert_timestamp", ...).
    def changes_of(action)
      changes.select { |c| c["action"] == action.to_s }
    end

    # The report for a terminal: a summary line, then every change, blocker and
    # warning on a line of its own.
    def to_text
      lines = [header]
      lines << "Changes (#{changes.size}):"
      lines.concat(changes.map { |c| "  #{change_line(c)}" })
      lines << "  none" if changes.empty?
      [["Blockers", blockers], ["Warnings", warnings]].each do |title, problems|
        lines << "#{title} (#{problems.size}):"
        lines.concat(problems.map { |p| "  #{p['kind']}: #{p['message']}" })
        lines << "  none" if problems.empty?
      end
      lines << "Steps without transitions (read as pending): #{steps_without_transitions}"
      lines << "Tasks without transitions (read as pending): #{tasks_without_transitions}"
      lines << "Functions left alone: #{other_functions.join(', ')}" unless other_functions.empty?
      lines.join("\n")
    end

    private

    def header
      kind = if engine_database? then "a tasker-engine database, not yet adopted"
             elsif schema_version.to_i.zero? then "no Tasker Core schema yet"
             else "Tasker Core schema version #{schema_version}"
             end
      verdict = if up_to_date? then "up to date: nothing to change"
                elsif ready_to_adopt? then "ready to adopt"
                else "NOT ready: fix the blockers first"
                end
      "Tasker Core adoption report for schema #{schema.inspect} (#{kind}; target version #{target_version}): #{verdict}"
    end

    def change_line(change)
      target = [change["table"], change["column"]].compact.join(".")
      target = change["name"] if target.empty?
      target = "#{change['name']} on #{change['table']}" if change["name"] && change["table"]
      line = "#{change['action']} #{target}"
      line += " [#{change['rows']} rows]" if change["rows"]
      line += " — #{change['detail']}" if change["detail"]
      line += " (#{change['migration']})" if change["migration"]
      line
    end
  end
end
