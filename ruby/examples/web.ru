# frozen_string_literal: true

# TaskerCore::Web as a plain Rack app:
#
#   DATABASE_URL=postgres://... rackup ruby/examples/web.ru -p 9292      (or: puma ruby/examples/web.ru)
#
# TASKER_WEB_SCHEMA picks the schema (default: the server's search_path);
# TASKER_WEB_USER/TASKER_WEB_PASSWORD turn on HTTP basic authentication, and
# the signed-in user may then run operator actions. Without them the dashboard
# is read-only (no authorizer) — put real authentication in front of it —
# unless TASKER_WEB_LOCAL_OPERATORS=1 (what `make demo WEB=1` sets): then
# requests from 127.0.0.1 may run them, as the actor "local".
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "tasker_core/web"

schema = ENV["TASKER_WEB_SCHEMA"]
client = -> { TaskerCore.client(**{ database_url: ENV["DATABASE_URL"], schema: schema }.compact) }
user = ENV["TASKER_WEB_USER"]
password = ENV["TASKER_WEB_PASSWORD"]

authenticate = nil
authorize = nil
if user && password
  authenticate = lambda do |env|
    auth = Rack::Auth::Basic::Request.new(env)
    auth.provided? && auth.basic? && auth.credentials == [user, password] ? user : nil
  end
  authorize = ->(actor, _action, _target) { actor == user }
end

if ENV["TASKER_WEB_LOCAL_OPERATORS"] == "1" && authenticate.nil?
  authenticate = ->(env) { %w[127.0.0.1 ::1].include?(env["REMOTE_ADDR"]) ? "local" : nil }
  authorize = ->(actor, _action, _target) { actor == "local" }
end

app = TaskerCore::Web.new(client: client, authenticate: authenticate, authorize: authorize)
if authenticate
  # A browser asks for credentials only when the 401 says how.
  basic = ->(env) { (r = app.call(env))[0] == 401 ? [401, r[1].merge("www-authenticate" => 'Basic realm="tasker"'), r[2]] : r }
  run basic
else
  run app
end
