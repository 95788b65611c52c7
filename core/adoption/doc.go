// Package adoption is the pre-flight check for adopting a tasker-engine
// database in place: it inspects a schema, read-only, and reports what
// migrations.Migrate would change there and what stands in its way.
//
// # What it reports
//
//   - the tables (present or to create, rows, bytes), the migrations to apply,
//     and every change Migrate would make: tables and columns to add (with the
//     rows a new column backfills), Rails' timestamp columns to convert to
//     timestamptz (each a table rewrite under an exclusive lock),
//     created_at/updated_at defaults to set, indexes to create, the engine's
//     functions of the same names to drop and Tasker Core's to install;
//   - blockers, which make Migrate fail or lose something: a view, trigger or
//     policy on a column to convert, an object depending on a function that is
//     dropped with CASCADE, rows a unique index to create would refuse
//     (duplicate sort keys or several most_recent transitions), a table lacking
//     a column Tasker Core reads, tables this role does not own, a schema
//     migrated by a newer library or with an edited migration, and objects an
//     applied migration made that have gone missing;
//   - warnings: transitions to states Tasker Core does not know, steps the
//     engine's workers hold (in process without a lease, which recovery never
//     takes); and counts of steps and tasks without transitions (pending to
//     both), and the functions adoption leaves alone.
//
// What the migrations create is read from their own text (migrations.All), so
// the report follows each new migration; a test holds it equal to what Migrate
// really does to an engine-shaped database, and to nothing at all once the
// schema is migrated.
//
// Inspect runs in one READ ONLY, REPEATABLE READ transaction that it rolls
// back: it never writes. The JSON API exposes it as adoption_report, the Ruby
// gem as Client#adoption_report and the tasker_core_doctor command
// (docs/guides/migrating-from-tasker-engine.md).
package adoption
