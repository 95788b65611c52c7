# frozen_string_literal: true

require "open3"
require "tmpdir"

# The gem's API reference (`make doc-ruby`, YARD with ruby/.yardopts) covers
# every public class, module, constant and method: `yard stats --list-undoc`
# reports 100% documented. The run keeps its database in a temp dir and saves
# nothing, so the spec leaves no file in the repository. (.yardopts names
# values/value_object.rb and values/task_summary.rb before lib/**/*.rb: the
# value_attribute macro must be known before the files whose classes use it.)
RSpec.describe "the YARD API reference" do
  ruby_dir = File.expand_path("../..", __dir__)
  yard = ENV.fetch("PATH", "").split(File::PATH_SEPARATOR).map { |d| File.join(d, "yard") }
            .find { |f| File.file?(f) && File.executable?(f) }

  it "documents every public object of lib/ (yard stats --list-undoc)" do
    skip "yard is not installed (scripts/ensure-deps.sh ruby installs Debian's yard)" unless yard

    output = Dir.mktmpdir("tasker-yard") do |tmp|
      out, status = Open3.capture2e(yard, "stats", "--list-undoc", "--no-save", "--no-cache",
                                    "--db", File.join(tmp, ".yardoc"), chdir: ruby_dir)
      expect(status.success?).to be(true), "yard stats failed:\n#{out}"
      out
    end
    undocumented = output[/^Undocumented Objects:\n(.*)\z/m, 1].to_s.strip

    expect(output).to match(/^Files:\s+\d+/), "yard read no files (is ruby/.yardopts there?):\n#{output}"
    expect(undocumented).to be_empty, "undocumented public objects:\n#{undocumented}"
    expect(output).to include("100.00% documented"), output
  end

  # yard stats counts what YARD can see; methods made at load time (attr_accessor
  # over a list, define_method, ValueObject.attribute) are invisible to it
  # unless a directive or macro declares them. Ruby's own list of the public
  # methods defined in lib/ holds the reference to those too.
  # It runs in a child process: YARD's core extensions and the web's gems stay
  # out of the suite's process.
  it "has a documented YARD object for every public method Ruby defines from lib/" do
    script = <<~RUBY
      require "json"
      begin
        require "yard"
      rescue LoadError
        puts JSON.generate("skip" => "yard is not installed (scripts/ensure-deps.sh ruby installs Debian's yard)")
        exit
      end
      begin
        require "tasker_core/web"
        require "tasker_core/web/graphql" # loaded on the first /graphql request otherwise
      rescue LoadError => e
        puts JSON.generate("skip" => "TaskerCore::Web's gems are missing (scripts/ensure-deps.sh web): \#{e.message}")
        exit
      end
      ruby_dir = #{ruby_dir.inspect}
      lib_dir = File.join(ruby_dir, "lib") + File::SEPARATOR
      words = File.read(File.join(ruby_dir, ".yardopts")).split
      globs = words.reject { |w| w.start_with?("-") || w.end_with?(".md") || w == "doc" }
      files = globs.flat_map { |g| Dir[File.join(ruby_dir, g)].sort }.uniq
      YARD::Logger.instance.level = Logger::FATAL
      YARD.parse(files)
      missing = []
      seen = {}
      walk = lambda do |mod|
        next if seen[mod]

        seen[mod] = true
        mod.constants(false).each do |c|
          value = mod.const_get(c, false) rescue next
          walk.call(value) if value.is_a?(Module) && value.name.to_s.start_with?("TaskerCore")
        end
        methods = mod.public_instance_methods(false).map { |m| ["#", m, mod.instance_method(m)] } +
                  mod.singleton_class.public_instance_methods(false).map { |m| [".", m, mod.method(m)] }
        methods.each do |sep, name, meth|
          file, line = meth.source_location
          next unless file&.start_with?(lib_dir)

          object = YARD::Registry.at("\#{mod.name}\#{sep}\#{name}")
          next unless object.nil? || object.docstring.blank?

          missing << "\#{mod.name}\#{sep}\#{name} (\#{file.delete_prefix(lib_dir)}:\#{line})"
        end
      end
      walk.call(TaskerCore)
      puts JSON.generate("modules" => seen.size, "missing" => missing.sort)
    RUBY
    result = run_ruby(script, timeout: 120)
    expect(result.success?).to be(true), "the check failed:\n#{result.stdout}\n#{result.stderr}"
    answer = JSON.parse(result.stdout.lines.last.to_s)
    skip answer["skip"] if answer["skip"]

    expect(answer["modules"]).to be > 50
    expect(answer["missing"]).to be_empty, "public methods without YARD documentation:\n#{answer["missing"].join("\n")}"
  end

  it "reads lib/ with the project's options (ruby/.yardopts)" do
    opts = File.read(File.join(ruby_dir, ".yardopts")).split
    expect(opts).to include("lib/**/*.rb", "--no-private", "--markup", "markdown")
  end
end
