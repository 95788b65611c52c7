# frozen_string_literal: true

module TaskerCore
  class Client
    # The library's handle of one client (an opaque number naming a pool inside
    # the library) and the pid that created it. It is kept apart from the Client so
    # that the Client's finalizer can free it without referencing the Client
    # (a finalizer that references its object keeps it alive forever).
    class Handle
      attr_reader :id, :pid

      def initialize(id, pid: Process.pid)
        @id = id
        @pid = pid
        @released = false
        @lock = Mutex.new
      end

      def released?
        @released
      end

      # Frees the handle in the library, once; later calls return nil. Returns the
      # library's response data ({"freed" => true}).
      def release
        @lock.synchronize do
          return nil if @released

          @released = true
        end
        envelope = Native.client_free(@id)
        raise ErrorMapper.exception_for(envelope["error"]) unless envelope["ok"]

        envelope["data"]
      end

      # A finalizer proc for the Client owning this handle. It references only the
      # handle, never calls into the library from another process than the one that
      # created the handle (a forked child), and never raises.
      def self.finalizer(handle)
        proc { handle.release_from_finalizer }
      end

      # Called from the finalizer: no lock (a finalizer may run while this thread
      # holds it), no exceptions, no library call in a forked child.
      def release_from_finalizer
        return if @released || Process.pid != @pid

        @released = true
        Native.release_handle(@id)
      end
    end
  end
end
