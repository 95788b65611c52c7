# frozen_string_literal: true

module TaskerCore
  # Raised instead of calling into the library from a process forked after the
  # library was loaded: a Go runtime does not survive fork(), and a call into it
  # from the child can hang forever. Load the library (create clients) after
  # forking, e.g. in Puma's on_worker_boot or Unicorn's after_fork.
  class ForkError < FFIError
  end
end
