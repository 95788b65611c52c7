package api

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgerr"
)

// Behind a transaction pooler (database.pooler: transaction, PgBouncer's
// pool_mode = transaction) each transaction may run on another server session,
// and a session's state is shared with other clients: so no named prepared
// statements (database.statement_mode), no session settings sent by the client
// (sessionSettings, set on the server side instead and checked here), and no
// LISTEN on pooled connections (store.EventWait). docs/configuration.md, "Behind
// PgBouncer".

// queryExecMode is pgx's mode for database.statement_mode (auto: named
// prepared statements unless a transaction pooler forbids them). The
// configuration refuses cache_statement with pooler transaction.
func queryExecMode(cfg *config.Config) pgx.QueryExecMode {
	switch cfg.String("database.statement_mode") {
	case "cache_statement":
		return pgx.QueryExecModeCacheStatement
	case "cache_describe":
		return pgx.QueryExecModeCacheDescribe
	case "exec":
		return pgx.QueryExecModeExec
	}
	if cfg.String("database.pooler") == "transaction" {
		return pgx.QueryExecModeCacheDescribe
	}
	return pgx.QueryExecModeCacheStatement
}

// sessionSettings are the server settings the pool's sessions need, by name:
// sent as startup parameters on a direct connection.
func sessionSettings(cfg *config.Config) map[string]string {
	m := map[string]string{
		"statement_timeout": strconv.FormatInt(cfg.Int("database.statement_timeout_ms"), 10),
		"plan_cache_mode":   cfg.String("database.plan_cache_mode"),
	}
	if s := cfg.String("database.schema"); s != "" {
		m["search_path"] = s
	}
	if c := cfg.Float("database.random_page_cost"); c > 0 {
		m["random_page_cost"] = strconv.FormatFloat(c, 'g', -1, 64)
	}
	return m
}

// setAfterConnect are the session settings a direct connection sets with SET
// once connected, not as startup parameters: PgBouncer in session mode refuses
// a startup parameter it was not told to ignore, and these came after the
// configurations written for the first ones (docs/guides/rails.md). Behind a
// transaction pooler they are in ConnectQuery with the others.
var setAfterConnect = map[string]bool{"random_page_cost": true}

// startupParams are the session settings a direct connection sends as startup
// parameters.
func startupParams(cfg *config.Config) map[string]string {
	m := sessionSettings(cfg)
	for k := range setAfterConnect {
		delete(m, k)
	}
	return m
}

// afterConnectSQL is the SET a direct connection runs once connected ("" for
// none), in name order.
func afterConnectSQL(cfg *config.Config) string {
	m := sessionSettings(cfg)
	var names []string
	for k := range m {
		if setAfterConnect[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = "SET " + k + " = " + m[k]
	}
	return strings.Join(parts, "; ")
}

// ConnectQuery is the PgBouncer connect_query (or the body of an ALTER ROLE …
// SET) that gives the server sessions behind a transaction pooler the settings
// a direct connection sends itself.
func ConnectQuery(cfg *config.Config) string {
	m := sessionSettings(cfg)
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		v := m[k]
		if k == "search_path" {
			v = pgx.Identifier{v}.Sanitize()
		}
		parts[i] = "SET " + k + " = " + v
	}
	return strings.Join(parts, "; ")
}

// checkSessionSettings reads a server session's settings through the pooler. A
// schema other than database.schema is an error (the store would read and
// write another schema's tables); a different statement_timeout or
// plan_cache_mode is returned as a warning (slower or unbounded statements, not
// wrong ones). With database.migrate the schema has been created first.
func checkSessionSettings(ctx context.Context, pool *pgxpool.Pool, cfg *config.Config) ([]string, error) {
	var schema *string
	var timeout, planMode string
	var pageCost float64
	err := pool.QueryRow(ctx, `SELECT current_schema(),
		(SELECT setting FROM pg_settings WHERE name = 'statement_timeout'), current_setting('plan_cache_mode'),
		current_setting('random_page_cost')::float8`).
		Scan(&schema, &timeout, &planMode, &pageCost)
	if err != nil {
		return nil, pgerr.Wrap(err, "read the server session's settings")
	}
	fix := "set them on the server side: PgBouncer's connect_query '" + ConnectQuery(cfg) +
		"' in the database entry, or ALTER ROLE … IN DATABASE … SET"
	if want := cfg.String("database.schema"); want != "" && (schema == nil || *schema != want) {
		got := "none"
		if schema != nil {
			got = *schema
		}
		return nil, errs.New(errs.Configuration, map[string]any{"key": "database.schema", "value": want, "current_schema": got},
			"configuration: database.pooler is transaction, so database.schema %q is not sent as search_path, and the "+
				"server session's current schema is %s: %s", want, got, fix)
	}
	var warnings []string
	if want := strconv.FormatInt(cfg.Int("database.statement_timeout_ms"), 10); timeout != want {
		warnings = append(warnings, fmt.Sprintf("the server session's statement_timeout is %s ms, database.statement_timeout_ms is %s: %s",
			timeout, want, fix))
	}
	if want := cfg.String("database.plan_cache_mode"); planMode != want {
		warnings = append(warnings, fmt.Sprintf("the server session's plan_cache_mode is %s, database.plan_cache_mode is %s: %s",
			planMode, want, fix))
	}
	if want := cfg.Float("database.random_page_cost"); want > 0 && pageCost != want {
		warnings = append(warnings, fmt.Sprintf("the server session's random_page_cost is %g, database.random_page_cost is %g: %s",
			pageCost, want, fix))
	}
	return warnings, nil
}
