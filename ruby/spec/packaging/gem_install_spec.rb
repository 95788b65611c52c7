# frozen_string_literal: true

require "fileutils"
require "open3"
require "rbconfig"
require "tmpdir"

# The gem as a Rails app would get it: `gem build` in ruby/, `gem install ./tasker_core-X.gem` into an
# empty GEM_HOME (offline: --local, ffi from Debian), then a plain ruby outside the repository, without
# TASKER_CORE_LIB, requires it, opens a client and creates a task. The source gem builds the library at
# install time from its vendored Go source; the x86_64-linux gem needs no Go; without Go the source gem
# refuses to install, saying what to do. Bounded by timeouts; one install of each.
RSpec.describe "Packaging: the gem builds, installs offline and finds its library", :integration do
  PACKAGING_RUBY_DIR = File.expand_path("../..", __dir__)
  PACKAGING_STEP_SECONDS = 600

  let(:schema) { TaskerCoreSpec::Database.new_schema }

  def go_bin_dir
    go = ENV.fetch("PATH", "").split(File::PATH_SEPARATOR).map { |d| File.join(d, "go") }.find { |f| File.executable?(f) }
    File.dirname(go || "/usr/local/go/bin/go")
  end

  # Runs a command with a deadline (killed after it). → [stdout+stderr, success?]
  def run(env, *cmd, chdir:)
    out = +""
    ok = false
    Open3.popen2e(env, *cmd, chdir: chdir, pgroup: true) do |stdin, io, wait|
      stdin.close
      reader = Thread.new { out << io.read }
      unless wait.join(PACKAGING_STEP_SECONDS)
        Process.kill("KILL", -wait.pid)
        wait.join
      end
      reader.join
      ok = wait.value.success?
    end
    [out, ok]
  end

  def clean_env(gem_home, path: "/usr/bin:/bin")
    { "GEM_HOME" => gem_home, "GEM_PATH" => nil, "TASKER_CORE_LIB" => nil, "RUBYLIB" => nil, "RUBYOPT" => nil,
      "BUNDLE_GEMFILE" => nil, "PATH" => path }
  end

  def build_gem(dir, platform: nil)
    env = { "PATH" => "#{go_bin_dir}:#{ENV.fetch('PATH')}", "TASKER_CORE_GEM_PLATFORM" => platform }
    out, ok = run(env, "gem", "build", "tasker_core.gemspec", "--output", File.join(dir, platform ? "platform.gem" : "source.gem"),
                  chdir: PACKAGING_RUBY_DIR)
    expect(ok).to be(true), out
    # The platform build left its library in lib/tasker_core/native/: not for this checkout's use.
    FileUtils.rm_f(File.join(PACKAGING_RUBY_DIR, "lib", "tasker_core", "native", "libtasker_core.so")) if platform
    File.join(dir, platform ? "platform.gem" : "source.gem")
  end

  def use_installed(gem_home, dir)
    script = <<~RUBY
      require "tasker_core"
      client = TaskerCore::Client.new(database_url: #{TaskerCoreSpec::Database.url.inspect}, schema: #{schema.inspect}, migrate: true)
      task = client.create_task(name: "from_the_gem", steps: [{ name: "a" }])
      puts "library=\#{TaskerCore.library_path} task=\#{task.task_id} viable=\#{client.viable_steps(task.task_id).map(&:name).inspect}"
      client.close
    RUBY
    run(clean_env(gem_home), RbConfig.ruby, "-e", script, chdir: dir)
  end

  it "installs the source gem (building the library with Go) and the x86_64-linux gem (without Go), or says why not" do
    Dir.mktmpdir("tasker_core_gem") do |dir|
      source = build_gem(dir)
      platform = build_gem(dir, platform: "x86_64-linux")

      # Source gem: Go (only Go) on PATH at install time; no network (--local).
      home = File.join(dir, "source_home")
      out, ok = run(clean_env(home, path: "#{go_bin_dir}:/usr/bin:/bin"), "gem", "install", "--local", "--no-document",
                    source, chdir: dir)
      expect(ok).to be(true), out
      out, ok = use_installed(home, dir)
      expect(ok).to be(true), out
      expect(out).to match(%r{library=#{Regexp.escape(home)}/gems/tasker_core-[^/]+/lib/tasker_core/native/libtasker_core\.so task=\d+ viable=\["a"\]})

      # Platform gem: no Go anywhere (GO names nothing, PATH has none).
      home = File.join(dir, "platform_home")
      out, ok = run(clean_env(home).merge("GO" => "/nonexistent/go"), "gem", "install", "--local", "--no-document",
                    platform, chdir: dir)
      expect(ok).to be(true), out
      out, ok = use_installed(home, dir)
      expect(ok).to be(true), out
      expect(out).to match(%r{library=#{Regexp.escape(home)}/gems/tasker_core-[^/]+-x86_64-linux/lib/tasker_core/native/libtasker_core\.so task=\d+})

      # Source gem without Go: a clear refusal.
      out, ok = run(clean_env(File.join(dir, "nogo_home")).merge("GO" => "/nonexistent/go"), "gem", "install", "--local",
                    "--no-document", source, chdir: dir)
      expect(ok).to be(false)
      expect(out).to include("cannot build the native library libtasker_core.so: Go was not found")
      expect(out).to include("x86_64-linux.gem")
    end
  end
end
