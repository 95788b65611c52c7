package api

import (
	"context"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgerr"
)

// retryPolicyKeys are the settings of the retry policy SQL readiness reads from
// tasker_retry_policies (retry.default_retry_limit is per step, not in it).
var retryPolicyKeys = []string{"retry.strategy", "retry.base_seconds", "retry.multiplier", "retry.cap_seconds", "retry.jitter"}

// applyRetryPolicy makes SQL readiness use the configured retry policy. The
// policy is one row per schema, shared by every client of it: with migrate it is
// written (as it always was); without migrate it is written only when some
// retry.* setting was given (a client left at the defaults does not undo another
// deployment's policy) and it differs from the stored one, so a client that
// agrees needs no write privilege. A policy that cannot be applied — the schema
// is not migrated, or the role may not write the row — is a configuration_error:
// silently running with another policy than the one configured is worse.
func applyRetryPolicy(ctx context.Context, cfg *config.Config, s *store.Store, migrate bool) error {
	if migrate {
		return s.SyncRetryPolicy(ctx)
	}
	var given []string
	for _, v := range cfg.Effective() {
		for _, k := range retryPolicyKeys {
			if v.Key == k && v.Source != config.SourceDefault {
				given = append(given, k)
			}
		}
	}
	if len(given) == 0 {
		return nil
	}
	want := cfg.RetryPolicy()
	stored, err := s.StoredRetryPolicy(ctx)
	if err != nil {
		if pgerr.Code(err) == pgerr.UndefinedTable {
			return errs.New(errs.Configuration, map[string]any{"keys": given},
				"retry policy (%v) is configured but the schema has no tasker_retry_policies table: run the migrations (migrate: true)", given)
		}
		return err
	}
	if stored == want {
		return nil
	}
	if err := s.SyncRetryPolicy(ctx); err != nil {
		if pgerr.Code(err) == pgerr.InsufficientPrivilege {
			return errs.New(errs.Configuration, map[string]any{"keys": given, "stored": stored, "configured": want},
				"retry policy: the configured policy %+v differs from the database's %+v, which SQL readiness uses, and "+
					"this role may not write tasker_retry_policies: grant it INSERT and UPDATE on the table, start a client "+
					"with migrate: true, or remove the retry settings", want, stored)
		}
		return err
	}
	return nil
}
