# frozen_string_literal: true

require "tmpdir"

RSpec.describe TaskerCore::ConfigFile do
  around { |example| Dir.mktmpdir { |dir| @dir = dir; example.run } }

  def file(text)
    path = File.join(@dir, "tasker.yml")
    File.write(path, text)
    path
  end

  it "evaluates ERB and leaves YAML and ${VAR} interpolation to the library" do
    ENV["CONFIG_FILE_SPEC_POOL"] = "7"
    path = file(%(test:\n  database:\n    pool:\n      max_connections: <%= ENV.fetch("CONFIG_FILE_SPEC_POOL") %>\n    url: ${DB}\n))
    expect(described_class.render(path)).to eq("test:\n  database:\n    pool:\n      max_connections: 7\n    url: ${DB}\n")
  ensure
    ENV.delete("CONFIG_FILE_SPEC_POOL")
  end

  it "returns a file without ERB as it is" do
    expect(described_class.render(file("a: <b>\n"))).to eq("a: <b>\n")
  end

  it "raises ConfigurationError naming the file and line when the ERB raises" do
    path = file(%(test:\n  database:\n    url: <%= ENV.fetch("CONFIG_FILE_SPEC_UNSET") %>\n))
    expect { described_class.render(path) }
      .to raise_error(TaskerCore::ConfigurationError, /#{Regexp.escape(path)}:3: ERB raised KeyError/) { |e|
        expect(e.details).to include("file" => path, "line" => 3)
      }
  end

  it "raises ConfigurationError for a file that cannot be read" do
    expect { described_class.render(File.join(@dir, "missing.yml")) }
      .to raise_error(TaskerCore::ConfigurationError, /missing\.yml/)
  end
end
