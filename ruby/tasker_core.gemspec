# frozen_string_literal: true

require_relative "lib/tasker_core/version"
require_relative "ext/tasker_core/source"

# Two gems from this file (docs in README.md, "Packaging"):
# - `gem build tasker_core.gemspec`: the source gem. It ships the Go source of the library with its
#   modules vendored (ext/tasker_core/go/, prepared here from the repository when `gem build` runs) and
#   builds libtasker_core.so when installed (ext/tasker_core/extconf.rb; needs Go and a C compiler, no
#   network).
# - `TASKER_CORE_GEM_PLATFORM=x86_64-linux gem build tasker_core.gemspec`: the platform gem, with the
#   library prebuilt in lib/tasker_core/native/, for machines without Go.
platform = ENV.fetch("TASKER_CORE_GEM_PLATFORM", nil)
platform = nil if platform.to_s.empty?
building = defined?(Gem::Commands::BuildCommand) || ENV["TASKER_CORE_GEM_PREPARE"] == "1"
if building && TaskerCoreGemSource.repository?
  TaskerCoreGemSource.prepare!
  TaskerCoreGemSource.build_library! if platform
end

Gem::Specification.new do |spec|
  spec.name = "tasker_core"
  spec.version = TaskerCore::VERSION
  spec.authors = ["Tasker Core contributors"]
  spec.summary = "Ruby bindings for Tasker Core, a PostgreSQL workflow engine written in Go"
  spec.description = <<~DESC
    Tasker Core keeps workflows (DAGs of steps) in PostgreSQL and answers which steps can run,
    applies step state changes in batches and analyses dependencies. This gem calls its shared
    library (libtasker_core.so) through FFI; the source gem builds it at install time with Go, the
    x86_64-linux gem ships it prebuilt.
  DESC
  spec.license = "MIT"
  spec.required_ruby_version = ">= 3.1"

  files = lambda do |dir|
    Dir.glob("#{dir}/**/*", File::FNM_DOTMATCH, base: __dir__).select { |f| File.file?(File.join(__dir__, f)) }
  end
  native = "lib/tasker_core/native/libtasker_core.so"
  lib_files = (files.call("lib") + files.call("exe")).reject { |f| f.start_with?("lib/tasker_core/native/") }
  if platform
    spec.platform = platform
    spec.files = lib_files + (File.file?(File.join(__dir__, native)) ? [native] : [])
  else
    spec.files = lib_files + files.call("ext").reject { |f| File.basename(f) == TaskerCoreGemSource::STAMP }
    spec.extensions = ["ext/tasker_core/extconf.rb"]
  end
  spec.require_paths = ["lib"]
  spec.bindir = "exe"
  spec.executables = ["tasker_core_doctor"]

  spec.add_runtime_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "rspec", "~> 3.12"
end
