// Package migrations creates and upgrades Tasker Core's schema. Numbered .sql files
// are embedded in the binary and applied in order, in one transaction, under an
// advisory lock, with a record of what ran; then the SQL functions of package
// sqlfuncs are (re)installed when their checksum differs from the installed one.
// Running it twice is a no-op. Everything happens in the connection's current
// schema (search_path), which is how tests get a schema each.
//
// # Start here
//
// Migrate(ctx, pool) applies what is missing and returns a Result (the files it
// applied, whether it installed the functions, the schema version); an applied
// file whose contents changed since is refused with a configuration_error. All
// lists the migrations and LatestVersion is the schema version this binary
// expects.
//
// The tables are tasker-engine's, created only where absent, so an existing
// engine database is adopted in place (0002 converts its timestamp columns to
// timestamptz as UTC and gives created_at/updated_at defaults; 0003–0008 add
// Tasker Core's columns, tables and indexes). Before adopting one, run the
// pre-flight report of package core/adoption (adoption_report in the JSON API);
// docs/guides/migrating-from-tasker-engine.md walks through it table by table.
package migrations
