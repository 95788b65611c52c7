# frozen_string_literal: true

require "tmpdir"

# The README's Rails quick start, run line by line in a scratch directory with
# Debian's Rails: `rails new` to a completed workflow (issue 13).
RSpec.describe "the README's Rails quick start" do
  repo = File.expand_path("../../..", __dir__)
  readme = File.read(File.join(repo, "README.md"))
  block = readme[/<!-- rails-quick-start -->\s*```sh\n(.*?)```/m, 1].to_s
  commands = block.lines.map(&:strip).reject(&:empty?)

  it "has five commands" do
    expect(commands.size).to eq(5), "README.md's quick start block: #{block.inspect}"
    expect(commands.first).to start_with("rails new shop ")
  end

  it "runs them in order in a scratch directory and ends with a completed workflow" do
    # The app's name makes its database names: a throwaway name per run
    # instead of "shop" on the shared server.
    name = "tasker_rails_test_qs_#{Process.pid}"
    server = URI.parse(TaskerCoreSpec::Database.server_url)
    Dir.mktmpdir("tasker_quick_start") do |dir|
      File.symlink(repo, File.join(dir, "tasker-core")) # "the repository checked out beside the app"
      script = "set -euo pipefail\n#{commands.map { |c| c.gsub(/\bshop\b/, name) }.join("\n")}\n"
      hidden = ENV.keys.grep(/#{TaskerCoreSpec::RailsApp::HIDDEN_ENV}|\ARUBYOPT\z/).to_h { |key| [key, nil] }
      env = hidden.merge("PGHOST" => server.host || "127.0.0.1", "PGPORT" => (server.port || 5432).to_s,
                         "PGUSER" => URI.decode_www_form_component(server.user || "postgres"),
                         "PGPASSWORD" => URI.decode_www_form_component(server.password.to_s))
      out_r, out_w = IO.pipe
      pid = Process.spawn(env, "bash", "-c", script, chdir: dir, out: out_w, err: %i[child out], in: File::NULL,
                                                     pgroup: true)
      out_w.close
      reader = Thread.new { out_r.read }
      status = nil
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 300
      until (status = Process.wait2(pid, Process::WNOHANG)&.last)
        if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          Process.kill("KILL", -pid)
          status = Process.wait2(pid).last
          break
        end
        sleep 0.1
      end
      output = reader.value
      out_r.close
      expect(status.success?).to be(true), "the quick start failed (#{status.inspect}):\n#{output[-6000..] || output}"
      expect(output.lines.last.strip).to eq("complete"), output[-3000..]
    ensure
      %w[development test].each do |env_name|
        TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.server_url,
                                      "DROP DATABASE IF EXISTS #{name}_#{env_name} WITH (FORCE)")
      end
    end
  end
end
