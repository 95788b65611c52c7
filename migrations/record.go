package migrations

// RecordTable is the table that records applied migrations (one row per file,
// with its checksum) and, in the row of version FunctionsRecordVersion, the
// checksum of the installed SQL functions. Read-only inspections of a schema
// (core/adoption) read it to tell what Migrate would still do.
const (
	RecordTable            = recordTable
	FunctionsRecordVersion = 0
)
