# frozen_string_literal: true

require "open3"
require "tmpdir"

# The gem's API reference (`make doc-ruby`, YARD with ruby/.yardopts) covers
# every public class, module, constant and method: `yard stats --list-undoc`
# reports 100% documented. The run keeps its database in a temp dir and saves
# nothing, so the spec leaves no file in the repository.
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

  it "reads lib/ with the project's options (ruby/.yardopts)" do
    opts = File.read(File.join(ruby_dir, ".yardopts")).split
    expect(opts).to include("lib/**/*.rb", "--no-private", "--markup", "markdown")
  end
end
