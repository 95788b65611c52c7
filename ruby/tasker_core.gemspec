# frozen_string_literal: true

require_relative "lib/tasker_core/version"

Gem::Specification.new do |spec|
  spec.name = "tasker_core"
  spec.version = TaskerCore::VERSION
  spec.authors = ["Tasker Core contributors"]
  spec.summary = "Ruby bindings for Tasker Core, a PostgreSQL workflow engine written in Go"
  spec.description = <<~DESC
    Tasker Core keeps workflows (DAGs of steps) in PostgreSQL and answers which steps can run,
    applies step state changes in batches and analyses dependencies. This gem calls its shared
    library (libtasker_core.so, built with `make lib`) through FFI.
  DESC
  spec.license = "MIT"
  spec.required_ruby_version = ">= 3.1"

  spec.files = Dir[File.join(__dir__, "{lib,exe}", "**", "*")].select { |f| File.file?(f) }
                                                             .map { |f| f.delete_prefix("#{__dir__}/") }
  spec.require_paths = ["lib"]
  spec.bindir = "exe"
  spec.executables = ["tasker_core_doctor"]

  spec.add_runtime_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "rspec", "~> 3.12"
end
