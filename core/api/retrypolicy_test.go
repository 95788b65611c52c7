package api

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// A retry_policy given to a client without migrate: true is what SQL readiness
// applies (it used to be silently ignored); a client left at the defaults does
// not overwrite the policy another client wrote.
func TestRetryPolicyWithoutMigrateIsApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, schema := testdb.SchemaWithName(t, testdb.Options{}) // migrated, default policy
	open := func(extra string) *Client {
		c, err := Open(ctx, []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q%s}`, testdb.URL(t), schema, extra)))
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	want := backoff.Policy{Strategy: backoff.Linear, BaseSeconds: 7, Multiplier: 2, CapSeconds: 300, Jitter: 0}
	c := open(`, "retry_policy": {"strategy": "linear", "base_seconds": 7}`)
	got, err := c.Store().StoredRetryPolicy(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got, "SQL readiness reads this row")

	// The SQL readiness itself now backs off by 7 s (linear, one attempt) after a failure.
	var ct created
	callOK(t, c, "create_task", `{"name": "rp", "steps": [{"name": "a", "retry_limit": 3}]}`, &ct)
	step := ct.StepIDs["a"]
	callOK(t, c, "batch_update_step_states", fmt.Sprintf(`{"updates": [{"step_id": %d, "state": "in_progress"},
		{"step_id": %d, "state": "error"}]}`, step, step), nil)
	rows, err := c.Store().StepReadiness(ctx, ct.TaskID, nil, nil)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.NotNil(t, rows[0].NextRetryAt)
	require.NotNil(t, rows[0].LastFailureAt)
	delay := rows[0].NextRetryAt.Sub(*rows[0].LastFailureAt).Seconds()
	assert.InDelta(t, 7.0, delay, 0.001)

	open("") // defaults: leaves the stored policy alone
	got, err = c.Store().StoredRetryPolicy(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// A policy that cannot be applied is refused: on a schema without the table, and
// for a role that may read but not write it (when the policy differs; an equal
// one needs no write).
func TestRetryPolicyThatCannotBeAppliedIsAConfigurationError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, bare := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	_, err := Open(ctx, []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "retry_policy": {"jitter": 0.5}}`,
		testdb.URL(t), bare)))
	assert.Equal(t, errs.Configuration, errs.KindOf(err), "%v", err)
	assert.ErrorContains(t, err, "run the migrations")

	pool, schema := testdb.SchemaWithName(t, testdb.Options{})
	role := "tasker_ro_" + schema
	ident := pgx.Identifier{role}.Sanitize()
	_, err = pool.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN; GRANT USAGE ON SCHEMA %s TO %s;
		GRANT SELECT ON tasker_retry_policies TO %s`, ident, pgx.Identifier{schema}.Sanitize(), ident, ident))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), fmt.Sprintf(`DROP OWNED BY %s; DROP ROLE %s`, ident, ident))
	})
	u, err := url.Parse(testdb.URL(t))
	require.NoError(t, err)
	u.User = url.User(role) // the test server trusts local connections
	roURL := u.String()

	_, err = Open(ctx, []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "retry_policy": {"jitter": 0.5}}`, roURL, schema)))
	assert.Equal(t, errs.Configuration, errs.KindOf(err), "%v", err)
	assert.ErrorContains(t, err, "may not write tasker_retry_policies")

	c, err := Open(ctx, []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "retry_policy": {"strategy": "exponential"}}`,
		roURL, schema)))
	require.NoError(t, err, "the same policy as stored needs no write")
	c.Close()
}
