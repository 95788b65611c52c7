# frozen_string_literal: true

require "erb"

module TaskerCore
  # config/tasker.yml as the library reads it: the gem evaluates ERB in the
  # file first (`<%= ENV.fetch("TASKER_POOL", 5) %>`), as Rails does with
  # database.yml, and hands the text to the library (the Go side parses the
  # YAML, its per-environment sections and ${VAR} interpolation).
  class ConfigFile
    # The file's text with its ERB evaluated. An ERB error (a missing
    # ENV.fetch key, a syntax error) is a ConfigurationError naming the file
    # and the line; a file that cannot be read, too.
    def self.render(path)
      path = path.to_s
      text = File.read(path)
      return text unless text.include?("<%")

      erb = ERB.new(text, trim_mode: "-")
      erb.filename = path
      erb.result(TOPLEVEL_BINDING.dup)
    rescue SystemCallError, IOError => e
      raise ConfigurationError.new("configuration file #{path}: #{e.message}", details: { "file" => path })
    rescue ScriptError, StandardError => e
      line = e.backtrace_locations&.find { |l| l.path == path }&.lineno
      raise ConfigurationError.new(
        "configuration file #{path}#{line ? ":#{line}" : ''}: ERB raised #{e.class}: #{e.message}",
        details: { "file" => path, "line" => line }.compact
      )
    end
  end
end
