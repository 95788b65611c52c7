# frozen_string_literal: true

RSpec.describe TaskerCore::Rails::DatabaseUrl do
  def build(**hash) = described_class.build(hash)

  it "builds host, port, database, user and a percent-escaped password" do
    expect(build(adapter: "postgresql", host: "db.internal", port: 6432, database: "shop_production",
                 username: "shop", password: "p@ss:w/rd %+?"))
      .to eq("postgres://shop:p%40ss%3Aw%2Frd%20%25%2B%3F@db.internal:6432/shop_production")
  end

  it "passes a Unix socket directory as the host parameter, with its port" do
    expect(build(adapter: "postgresql", host: "/var/run/postgresql", port: 5433, database: "app", username: "me"))
      .to eq("postgres://me@/app?host=%2Fvar%2Frun%2Fpostgresql&port=5433")
  end

  it "leaves the host out when ActiveRecord gives none (libpq's default socket)" do
    expect(build("adapter" => "postgresql", "database" => "app")).to eq("postgres:///app")
  end

  it "keeps TLS and connection options, string keys too, and brackets IPv6 hosts" do
    expect(build("adapter" => "postgis", "host" => "::1", "database" => "app", "sslmode" => "verify-full",
                 "sslrootcert" => "/etc/ssl/root.crt", "connect_timeout" => 3, "pool" => 5))
      .to eq("postgres://[::1]/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Froot.crt&connect_timeout=3")
  end

  it "refuses other adapters and a missing database name with ConfigurationError" do
    expect { build(adapter: "sqlite3", database: "db/dev.sqlite3") }
      .to raise_error(TaskerCore::ConfigurationError, /needs PostgreSQL.*sqlite3/)
    expect { build(adapter: "postgresql", password: "secret") }
      .to raise_error(TaskerCore::ConfigurationError, /names no database/) { |e| expect(e.message).not_to include("secret") }
  end

  it "gives a URL the library connects with (socket form included)" do
    uri = URI.parse(TaskerCoreSpec::Database.url)
    skip "the test database is not on 127.0.0.1 (#{uri.host})" unless uri.host == "127.0.0.1"
    socket_dir = "/var/run/postgresql"
    skip "no PostgreSQL socket in #{socket_dir}" unless File.socket?(File.join(socket_dir, ".s.PGSQL.#{uri.port || 5432}"))

    url = build(adapter: "postgresql", host: socket_dir, port: uri.port || 5432, database: uri.path.delete_prefix("/"),
                username: uri.user || "postgres")
    client = TaskerCore::Client.new(database_url: url)
    begin
      expect(client.migration_status.latest_version).to be_positive
    ensure
      client.close
    end
  end
end
