# frozen_string_literal: true

module TaskerCore
  # Raised instead of calling into the library from a process forked after the
  # library was loaded: a Go runtime does not survive fork(), and a call into it
  # from the child can hang forever. Nothing may load the library before a
  # fork (see ADVICE); the message names the call that loaded it.
  class ForkError < FFIError
    # What to do, in every ForkError's message.
    ADVICE = "Nothing that loads the library may run in a process that then forks (Puma cluster mode, " \
             "Unicorn, preload_app). The gem loads its library lazily: requiring it is safe, and so are " \
             "configuring it, register_task, Events.subscribe and " \
             "building a Listener, LiveRelay or Worker are safe at boot; the shared TaskerCore.client is lazy, " \
             "and its migrate! and register_templates run in a short-lived child process when the library " \
             "is not loaded yet. Move every other call (Client.new, create_task, system_health, " \
             "Listener#start, Worker#run, ...) after the fork: Puma's on_worker_boot, Unicorn's after_fork, " \
             "or the first request."
  end
end
