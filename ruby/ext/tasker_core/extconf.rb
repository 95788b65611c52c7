# frozen_string_literal: true

# Builds libtasker_core.so when the gem is installed: the Go source shipped in go/ (with its modules
# vendored, so no network is needed) is compiled with `go build -buildmode=c-shared` into
# lib/tasker_core/native/, where TaskerCore::Native looks for it. Needs Go (on PATH, $GO, or
# /usr/local/go/bin/go) and a C compiler (cgo). Without Go, installation stops here and says what to do.
require "rbconfig"
require "tmpdir"

GO_SOURCE = File.expand_path("go", __dir__)
LIBRARY = File.expand_path("../../lib/tasker_core/native/libtasker_core.so", __dir__)
VERSION = File.read(File.expand_path("../../lib/tasker_core/version.rb", __dir__))[/VERSION = "([^"]+)"/, 1]

# $GO when set (and then only it), else go on PATH, else /usr/local/go/bin/go.
def find_go
  candidates = if ENV["GO"].to_s.empty?
                 ENV.fetch("PATH", "").split(File::PATH_SEPARATOR).map { |d| File.join(d, "go") } +
                   ["/usr/local/go/bin/go"]
               else
                 [ENV["GO"]]
               end
  candidates.find { |f| File.file?(f) && File.executable?(f) }
end

go = find_go
if go.nil?
  abort <<~MSG
    tasker_core: cannot build the native library libtasker_core.so: Go was not found ($GO when set, else PATH
    and /usr/local/go/bin/go). Either install Go (the version of go/go.mod or newer) and a C compiler and
    install this gem again, or install the prebuilt platform gem (tasker_core-#{VERSION}-x86_64-linux.gem)
    on x86_64 Linux, or build the library yourself and point TASKER_CORE_LIB at it.
  MSG
end
abort "tasker_core: the gem's Go source (#{GO_SOURCE}) is missing; the gem was built without it" unless File.directory?(GO_SOURCE)

env = "GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=1"
env += " GOCACHE=#{File.join(Dir.tmpdir, 'tasker_core-go-cache')}" if ENV["GOCACHE"].to_s.empty? && ENV["HOME"].to_s.empty?
File.write("Makefile", <<~MAKE)
  # Written by extconf.rb: builds the Tasker Core native library with Go.
  all:
  \tmkdir -p #{File.dirname(LIBRARY)}
  \tcd #{GO_SOURCE} && #{env} #{go} build -buildmode=c-shared -trimpath -ldflags "-s -w" -o #{LIBRARY} ./capi
  \trm -f #{LIBRARY.sub(/\.so\z/, '.h')}

  install: all

  clean:
  \trm -f #{LIBRARY}
MAKE
