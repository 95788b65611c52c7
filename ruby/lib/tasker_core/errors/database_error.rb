# frozen_string_literal: true

module TaskerCore
  # PostgreSQL failed or is unreachable, or the pool is closed (envelope type "database_error").
  class DatabaseError < Error
  end
end
