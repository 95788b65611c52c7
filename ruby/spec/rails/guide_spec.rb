# frozen_string_literal: true

require "shellwords"
require "socket"
require "tmpdir"
require_relative "../../../scripts/doc_code_blocks"

# docs/guides/rails.md, run (issue 17): its blocks in order, in one bash, in a
# scratch directory with Debian's Rails — each ```sh block run, each block
# under a `<!-- file: PATH -->` marker written to PATH first — with throwaway
# databases (the app is renamed) and free ports instead of the guide's. A
# failure names the block and shows its output; every process the guide starts
# in the background is in the script's process group, killed at the end.
RSpec.describe "docs/guides/rails.md" do
  repo = File.expand_path("../../..", __dir__)
  guide = File.join(repo, "docs/guides/rails.md")
  blocks = DocCodeBlocks.parse(File.read(guide))
  # The guide's ports, each replaced by a free one.
  ports = %w[3000 6432 9394 9395 9396].freeze

  def free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  it "has only blocks it runs, writes or shows as output" do
    other = blocks.reject { |b| b.file || %w[sh text].include?(b.lang) }
    expect(other.map(&:line)).to eq([]), "blocks neither run (sh) nor written (file marker) nor output (text)"
    expect(blocks.count { |b| b.lang == "sh" && b.file.nil? }).to be >= 10
    expect(blocks.first.code).to start_with("rails new shop ")
    expect(blocks.count { |b| b.lang == "text" && b.file.nil? }).to be >= 2
  end

  it "runs every command in order in a scratch app, from rails new to a deployed second version" do
    name = "tasker_rails_test_guide_#{Process.pid}"
    taken = []
    mapping = ports.to_h do |port|
      fresh = free_port
      fresh = free_port while taken.include?(fresh)
      taken << fresh
      [port, fresh.to_s]
    end
    server = URI.parse(TaskerCoreSpec::Database.server_url)
    # The app's name (and so its databases, shop_development, and PgBouncer's
    # alias shop_tasker), the guide's ports, and PgBouncer's server.
    rename = lambda do |text|
      text.gsub(/\bshop(?=\b|_)/, name).gsub(/\b(#{ports.join('|')})\b/) { mapping.fetch(Regexp.last_match(1)) }
          .gsub("host=127.0.0.1 port=5432", "host=#{server.host || '127.0.0.1'} port=#{server.port || 5432}")
    end

    Dir.mktmpdir("tasker_rails_guide") do |dir|
      File.symlink(repo, File.join(dir, "tasker-core"))
      marker = File.join(dir, "current_block")
      trace = File.join(dir, "trace") # set -x, apart from the output the text blocks are compared with
      script = +"exec 9> #{trace.shellescape}\nBASH_XTRACEFD=9\nset -euxo pipefail\n"
      blocks.each_with_index do |block, index|
        next if block.file.nil? && block.lang != "sh"

        script << "echo #{index} > #{marker.shellescape}\necho '==> block #{index} (line #{block.line})'\n"
        if block.file
          path = rename.call(block.file).shellescape
          script << "mkdir -p \"$(dirname #{path})\"\ncat > #{path} <<'TASKER_GUIDE_EOF'\n#{rename.call(block.code)}TASKER_GUIDE_EOF\n"
        else
          script << rename.call(block.code)
        end
      end
      script << "echo '==> guide done'\n"

      hidden = ENV.keys.grep(/#{TaskerCoreSpec::RailsApp::HIDDEN_ENV}|\ARUBYOPT\z|\AOTEL_/).to_h { |key| [key, nil] }
      env = hidden.merge("PGHOST" => server.host || "127.0.0.1", "PGPORT" => (server.port || 5432).to_s,
                         "PGUSER" => URI.decode_www_form_component(server.user || "postgres"),
                         "PGPASSWORD" => URI.decode_www_form_component(server.password.to_s))
      out_r, out_w = IO.pipe
      pid = Process.spawn(env, "bash", "-c", script, chdir: dir, out: out_w, err: %i[child out], in: File::NULL,
                                                     pgroup: true)
      out_w.close
      reader = Thread.new { out_r.read }
      status = nil
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 170
      begin
        until (status = Process.wait2(pid, Process::WNOHANG)&.last)
          break if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

          sleep 0.1
        end
      ensure
        # The guide's background servers and workers share the script's group.
        begin
          Process.kill("KILL", -pid)
        rescue Errno::ESRCH
          nil
        end
        status ||= Process.wait2(pid).last
      end
      output = reader.value
      out_r.close

      unless output.include?("==> guide done\n") && status.success?
        index = File.exist?(marker) ? Integer(File.read(marker)) : nil
        block = index && blocks[index]
        failed = block ? "block #{index} at line #{block.line} (#{block.file || block.code.lines.first.strip})" : "before any block"
        own = output[/^==> block #{index} .*\z/m] || output
        commands = File.exist?(trace) ? File.read(trace).lines.last(15).join : ""
        raise "docs/guides/rails.md: #{failed} failed (#{status.inspect}#{status.signaled? ? ', timed out' : ''}):\n" \
              "#{own[-8000..] || own}\n-- its last commands (set -x):\n#{commands}"
      end
      # The guide's output blocks are what its commands printed.
      blocks.select { |b| b.lang == "text" && b.file.nil? }.each do |b|
        expect(output).to include(b.code), "docs/guides/rails.md line #{b.line}: output not printed:\n#{b.code}"
      end
    ensure
      %w[development test].each do |env_name|
        TaskerCoreSpec::Database.psql(TaskerCoreSpec::Database.server_url,
                                      "DROP DATABASE IF EXISTS #{name}_#{env_name} WITH (FORCE)")
      end
    end
  end
end
