package adoption

import (
	"regexp"
	"strings"

	"github.com/taskercore/tasker-core/migrations"
)

// plan is what the embedded migrations create, read from their text, so the
// report follows every new migration without being taught it. The project's
// migrations are written in one style (CREATE TABLE IF NOT EXISTS, ALTER TABLE
// ... ADD COLUMN IF NOT EXISTS, CREATE [UNIQUE] INDEX IF NOT EXISTS ... ON),
// and TestReportListsExactlyWhatMigrateChanges holds this reading equal to what
// Migrate really does to an engine-shaped database.
type plan struct {
	tables    []planTable  // CREATE TABLE IF NOT EXISTS, in order
	columns   []planColumn // ALTER TABLE ... ADD COLUMN IF NOT EXISTS
	indexes   []planIndex
	functions []string // CREATE OR REPLACE FUNCTION in a migration (not sqlfuncs)
}

type planTable struct {
	name      string
	migration string
	columns   []string // the columns its CREATE TABLE defines
}

type planColumn struct {
	table, column, migration string
}

type planIndex struct {
	name, table, migration string
	unique                 bool
	columns                string // the key, as written: "task_id, sort_key"
	where                  string // a partial index's predicate, "" for none
}

var (
	reCreateTable = regexp.MustCompile(`(?is)CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\s*\(`)
	reAddColumn   = regexp.MustCompile(`(?i)ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+(\w+)`)
	reIndex       = regexp.MustCompile(`(?is)CREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s+(\w+)\s+ON\s+(\w+)\s*\(([^)]*)\)([^;]*);`)
	reWhere       = regexp.MustCompile(`(?is)\bWHERE\b(.*)$`)
	reFunction    = regexp.MustCompile(`(?i)CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)`)
	reComment     = regexp.MustCompile(`--[^\n]*`)
)

func readPlan() plan {
	var p plan
	for _, m := range migrations.All() {
		sql := reComment.ReplaceAllString(m.SQL, "")
		for _, loc := range reCreateTable.FindAllStringSubmatchIndex(sql, -1) {
			name := sql[loc[2]:loc[3]]
			body := enclosed(sql[loc[1]-1:])
			p.tables = append(p.tables, planTable{name: name, migration: m.Name, columns: columnNames(body)})
		}
		for _, c := range reAddColumn.FindAllStringSubmatch(sql, -1) {
			p.columns = append(p.columns, planColumn{table: c[1], column: c[2], migration: m.Name})
		}
		for _, c := range reIndex.FindAllStringSubmatch(sql, -1) {
			ix := planIndex{name: c[2], table: c[3], migration: m.Name, unique: c[1] != "", columns: strings.TrimSpace(c[4])}
			if w := reWhere.FindStringSubmatch(c[5]); w != nil {
				ix.where = strings.TrimSpace(w[1])
			}
			p.indexes = append(p.indexes, ix)
		}
		for _, c := range reFunction.FindAllStringSubmatch(sql, -1) {
			p.functions = append(p.functions, c[1])
		}
	}
	return p
}

// enclosed returns the text inside the parenthesis s starts with.
func enclosed(s string) string {
	depth := 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i]
			}
		}
	}
	return s
}

// columnNames returns the column names of a CREATE TABLE body (its top-level
// items that are not table constraints).
func columnNames(body string) []string {
	var items []string
	depth, start := 0, 0
	for i, r := range body {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, body[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, body[start:])
	var cols []string
	for _, it := range items {
		f := strings.Fields(it)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "PRIMARY", "UNIQUE", "CHECK", "CONSTRAINT", "FOREIGN", "EXCLUDE":
			continue
		}
		cols = append(cols, f[0])
	}
	return cols
}
