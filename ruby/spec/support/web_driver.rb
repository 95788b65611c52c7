# frozen_string_literal: true

require "net/http"
require "socket"
require "tmpdir"
require "base64"
require "fileutils"

module TaskerCoreSpec
  # A small W3C WebDriver client over net/http driving headless Chromium
  # through chromedriver (Debian's chromium and chromium-driver; no selenium
  # gem). One browser per instance; #quit stops it and chromedriver.
  class WebDriver
    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
    CHROME_ARGS = %w[--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
                     --disable-component-update --disable-sync --disable-dev-shm-usage --window-size=1600,1100].freeze

    def self.free_port
      server = TCPServer.new("127.0.0.1", 0)
      server.addr[1]
    ensure
      server&.close
    end

    def initialize(timeout: 20)
      %w[chromium chromedriver].each do |bin|
        next if system("command -v #{bin} >/dev/null 2>&1")

        raise "#{bin} is missing: run scripts/ensure-deps.sh web"
      end
      @port = self.class.free_port
      @profile = Dir.mktmpdir("tasker-chromium-")
      @driver = Process.spawn("chromedriver", "--port=#{@port}", "--allowed-ips=127.0.0.1", out: File::NULL, err: File::NULL,
                                                                                               pgroup: true)
      wait_until(timeout, "chromedriver to start") { status_ready? }
      caps = { "capabilities" => { "alwaysMatch" => {
        "browserName" => "chrome",
        "goog:chromeOptions" => { "binary" => chromium_binary, "args" => CHROME_ARGS + ["--user-data-dir=#{@profile}"] }
      } } }
      @session = request(:post, "/session", caps).fetch("sessionId")
      request(:post, session_path("/timeouts"), { "pageLoad" => timeout * 1000, "script" => 10_000, "implicit" => 0 })
    end

    def visit(url)
      request(:post, session_path("/url"), { "url" => url })
    end

    def current_url
      request(:get, session_path("/url"))
    end

    def find_all(css)
      request(:post, session_path("/elements"), { "using" => "css selector", "value" => css }).map { |e| e.fetch(ELEMENT) }
    end

    def find(css)
      request(:post, session_path("/element"), { "using" => "css selector", "value" => css }).fetch(ELEMENT)
    end

    def attribute(element, name)
      request(:get, session_path("/element/#{element}/attribute/#{name}"))
    end

    def text(element)
      request(:get, session_path("/element/#{element}/text"))
    end

    def click(element)
      scroll_to(element)
      request(:post, session_path("/element/#{element}/click"), {})
    end

    def type(element, text)
      scroll_to(element)
      request(:post, session_path("/element/#{element}/value"), { "text" => text })
    end

    def scroll_to(element)
      execute("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", { ELEMENT => element })
    end

    def execute(script, *args)
      request(:post, session_path("/execute/sync"), { "script" => script, "args" => args })
    end

    def screenshot(path)
      FileUtils.mkdir_p(File.dirname(path))
      File.binwrite(path, Base64.decode64(request(:get, session_path("/screenshot"))))
      path
    end

    # Runs the block again when the page replaced an element it held (the
    # dashboard's polling swaps its live part), up to +tries+ times.
    def fresh(tries = 5)
      yield
    rescue StaleElement
      tries -= 1
      raise if tries <= 0

      sleep 0.05
      retry
    end

    # Raised for WebDriver's "stale element reference" and "element not interactable".
    class StaleElement < StandardError; end

    # Waits until the block answers truthy (then returns its answer).
    def wait_until(seconds, what)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
      loop do
        value = begin
          yield
        rescue SystemCallError, IOError, Net::ReadTimeout, StaleElement
          nil
        end
        return value if value
        raise "timed out after #{seconds}s waiting for #{what}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

        sleep 0.1
      end
    end

    def quit
      request(:delete, session_path("")) if @session
    rescue StandardError
      nil
    ensure
      if @driver
        begin
          Process.kill("TERM", -@driver)
        rescue SystemCallError
          nil
        end
        Process.wait(@driver)
      end
      FileUtils.rm_rf(@profile) if @profile
    end

    private

    def chromium_binary
      %w[/usr/bin/chromium /usr/lib/chromium/chromium].find { |p| File.executable?(p) } || "chromium"
    end

    def status_ready?
      Net::HTTP.get_response(URI("http://127.0.0.1:#{@port}/status")).then { |r| r.code == "200" && JSON.parse(r.body).dig("value", "ready") }
    end

    def session_path(path)
      "/session/#{@session}#{path}"
    end

    def request(verb, path, body = nil)
      http = Net::HTTP.new("127.0.0.1", @port)
      http.read_timeout = 30
      req = { get: Net::HTTP::Get, post: Net::HTTP::Post, delete: Net::HTTP::Delete }.fetch(verb).new(path)
      if body
        req["Content-Type"] = "application/json"
        req.body = JSON.generate(body)
      end
      res = http.request(req)
      data = JSON.parse(res.body)
      value = data["value"]
      if value.is_a?(Hash) && value["error"]
        message = "WebDriver #{verb.upcase} #{path}: #{value['error']}: #{value['message']&.lines&.first}"
        # A node the page's polling just replaced (or is laying out again).
        raise StaleElement, message if ["stale element reference", "element not interactable"].include?(value["error"])

        raise message
      end

      value
    end
  end
end
