# frozen_string_literal: true

module TaskerCore
  class Client
    # The pre-flight check of adopting a tasker-engine database in place
    # (docs/guides/migrating-from-tasker-engine.md). Open the client with
    # migrate: false on the engine's database, read the report, and only then
    # run the migrations (#migrate!).
    module Adoption
      # What running the migrations would change in this client's schema —
      # tables, columns, timestamp conversions, defaults, indexes, functions,
      # backfills — and the blockers and warnings. Writes nothing (one READ ONLY
      # transaction). → AdoptionReport
      def adoption_report
        AdoptionReport.from_h(invoke(:adoption_report, {}))
      end
    end

    include Adoption
  end
end
