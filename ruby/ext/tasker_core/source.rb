# frozen_string_literal: true

require "digest"
require "fileutils"

# Puts the Go source of libtasker_core.so into the gem (ext/tasker_core/go/): the module files and the
# packages the C API builds from, without tests, and their dependencies vendored (`go mod vendor`), so
# that extconf.rb can build the library at install time without a network. Used by tasker_core.gemspec
# when `gem build` runs in the repository; nothing here runs in an installed gem.
module TaskerCoreGemSource
  RUBY_DIR = File.expand_path("../..", __dir__)
  REPOSITORY = File.expand_path("..", RUBY_DIR)
  DEST = File.join(__dir__, "go")
  LIBRARY = File.join(RUBY_DIR, "lib", "tasker_core", "native", "libtasker_core.so")
  # What the library is built from (paths relative to the repository).
  FILES = %w[go.mod go.sum].freeze
  # Whole trees, so a package the library starts to import is never left out.
  PACKAGES = %w[capi core internal migrations sqlfuncs].freeze
  STAMP = ".source-digest"

  module_function

  # True inside the repository (the Go module is next to ruby/).
  def repository?
    File.file?(File.join(REPOSITORY, "go.mod")) && File.directory?(File.join(REPOSITORY, "capi"))
  end

  # The source files to ship, relative to the repository: no tests, no test data.
  def source_files
    files = FILES.dup
    PACKAGES.each do |dir|
      Dir.glob("**/*", base: File.join(REPOSITORY, dir)).sort.each do |rel|
        path = File.join(dir, rel)
        next unless File.file?(File.join(REPOSITORY, path))
        next if rel.end_with?("_test.go") || rel.split("/").include?("testdata")

        files << path
      end
    end
    files
  end

  # Copies the source into DEST and vendors its modules, unless DEST holds this source already.
  def prepare!(go: go_command)
    files = source_files
    digest = Digest::SHA256.hexdigest(files.map { |f| "#{f}\0#{Digest::SHA256.file(File.join(REPOSITORY, f))}" }.join("\n"))
    stamp = File.join(DEST, STAMP)
    return DEST if File.file?(stamp) && File.read(stamp) == digest && File.directory?(File.join(DEST, "vendor"))

    raise "Go is needed to vendor the library's modules into the gem (go mod vendor); install it" if go.nil?

    FileUtils.rm_rf(DEST)
    files.each do |rel|
      target = File.join(DEST, rel)
      FileUtils.mkdir_p(File.dirname(target))
      FileUtils.cp(File.join(REPOSITORY, rel), target)
    end
    run!(go, "mod", "vendor", chdir: DEST)
    File.write(stamp, digest)
    DEST
  end

  # Builds the library into lib/tasker_core/native/ (the platform gem's prebuilt copy).
  def build_library!(go: go_command)
    raise "Go is needed to build the platform gem's library; install it" if go.nil?

    FileUtils.mkdir_p(File.dirname(LIBRARY))
    run!(go, "build", "-buildmode=c-shared", "-trimpath", "-ldflags", "-s -w", "-o", LIBRARY, "./capi", chdir: DEST)
    FileUtils.rm_f(LIBRARY.sub(/\.so\z/, ".h"))
    LIBRARY
  end

  # go on PATH, else /usr/local/go/bin/go, else nil.
  def go_command
    found = ENV.fetch("PATH", "").split(File::PATH_SEPARATOR).map { |d| File.join(d, "go") }
               .find { |f| File.executable?(f) && !File.directory?(f) }
    found || (File.executable?("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : nil)
  end

  # Offline and with the toolchain at hand: the module cache and the vendor directory only.
  def go_env
    { "GOFLAGS" => "-mod=mod", "GOPROXY" => "off", "GOTOOLCHAIN" => "local", "CGO_ENABLED" => "1" }
  end

  def run!(*cmd, chdir:)
    env = go_env
    env = env.merge("GOFLAGS" => "-mod=vendor") if cmd[1] == "build"
    ok = system(env, *cmd, chdir: chdir)
    raise "#{cmd.join(' ')} failed (in #{chdir})" unless ok
  end
end
