package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/jsonnul"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// Input checks shared by the operations (operator operations too): every value a
// column or a SQL type bounds is checked here, before any SQL runs, so the
// caller's mistake is a validation_error naming the field, never a database_error.

// Widths of the varchar columns requests fill (migrations/*.sql);
// TestColumnWidthsMatchSchema holds them equal to the migrated schema.
const (
	WidthNamespace       = 64  // tasker_task_namespaces.name
	WidthTaskName        = 64  // tasker_named_tasks.name
	WidthVersion         = 16  // tasker_named_tasks.version
	WidthDescription     = 255 // tasker_named_tasks.description
	WidthStepName        = 128 // tasker_named_steps.name
	WidthDependentSystem = 64  // tasker_dependent_systems.name
	WidthWorkerID        = 128 // tasker_workflow_steps.claimed_by
	WidthSubscriber      = 128 // tasker_event_subscribers.subscriber
	WidthEventName       = 128 // tasker_events.name
)

// CheckText refuses a string that is required and empty, is not UTF-8, holds
// U+0000 or has more than max characters (0: no limit).
func CheckText(field, v string, max int, required bool) error {
	switch {
	case required && v == "":
		return errs.New(errs.Validation, map[string]any{"field": field}, "%s is required", field)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return errs.New(errs.Validation, map[string]any{"field": field}, "%s must be UTF-8 without U+0000", field)
	case max > 0 && utf8.RuneCountInString(v) > max:
		return errs.New(errs.Validation, map[string]any{"field": field, "max_length": max},
			"%s is longer than %d characters", field, max)
	}
	return nil
}

// CheckAsSetting refuses a request value outside the range of the configuration
// key that gives its default (lease_seconds as execution.lease_seconds, a claim's
// limit as execution.claim_batch_size…): one range for the setting and for the
// request that overrides it.
func CheckAsSetting(field string, v float64, keyPath string) error {
	lo, hi := settingRange(keyPath)
	if v >= lo && v <= hi {
		return nil
	}
	return errs.New(errs.Validation, map[string]any{"field": field, "min": lo, "max": hi, "setting": keyPath},
		"%s must be between %v and %v (the range of %s), got %v", field, lo, hi, keyPath, v)
}

func settingRange(keyPath string) (lo, hi float64) {
	for _, k := range config.Keys {
		if k.Path == keyPath {
			lo, hi = -1e308, 1e308
			if k.Min != nil {
				lo = *k.Min
			}
			if k.Max != nil {
				hi = *k.Max
			}
			return lo, hi
		}
	}
	panic("api: no configuration key " + keyPath) // a typo in this package, caught by any test
}

// CheckCount refuses a list longer than max (api.max_batch_size for id lists).
func CheckCount(field string, n, max int) error {
	if n <= max {
		return nil
	}
	return errs.New(errs.Validation, map[string]any{"field": field, "max": max},
		"%s has %d entries, more than api.max_batch_size (%d)", field, n, max)
}

// itemNULPrefix: the operations whose items are refused one by one when they carry
// U+0000 (the others of the batch are still stored); U+0000 anywhere else in their
// payload refuses the call.
var itemNULPrefix = map[string]string{
	"report_step_results":      "reports[",
	"report_and_claim":         "reports[",
	"batch_update_step_states": "updates[",
}

// refuseNUL refuses a payload carrying U+0000 (PostgreSQL cannot store it in
// jsonb or text), except inside the items of a batch, which the operation refuses
// one by one.
func refuseNUL(method string, payload []byte) error {
	path, found := jsonnul.Find(payload)
	if !found {
		return nil
	}
	if prefix, ok := itemNULPrefix[method]; ok && strings.HasPrefix(path, prefix) {
		return nil
	}
	return nulError(path, map[string]any{"field": path})
}

func nulError(path string, details map[string]any) error {
	if path == "" {
		path = "(payload)"
	}
	return errs.New(errs.Validation, details, "%s contains U+0000, which PostgreSQL cannot store", path)
}

// itemField splits an item's relative path ("results.note") into its top field
// ("results") for the error's field.
func itemField(rel string) string {
	if i := strings.IndexAny(rel, ".["); i > 0 {
		return rel[:i]
	}
	return rel
}

// reportItems are the reports of a call: the store's reports, and for the ones
// refused (U+0000), why and whether they became failures.
type reportItems struct {
	reports  []store.StepReport // to store, in order
	original []int              // reports[j] is item original[j] of the call
	refused  map[int]*errs.Error
	all      int
}

// decodeReports decodes a call's reports. A report carrying U+0000 in its
// results, error or metadata becomes a permanent failure of its step saying why
// (its step must not stay in_progress); one carrying it elsewhere (worker_id) is
// refused. Either way the others are stored.
func decodeReports(raws []json.RawMessage) (reportItems, error) {
	out := reportItems{refused: map[int]*errs.Error{}, all: len(raws)}
	for i, raw := range raws {
		var r store.StepReport
		if err := strictDecode(raw, &r); err != nil {
			return out, prefixField(err, fmt.Sprintf("reports[%d]", i))
		}
		rel, found := jsonnul.Find(raw)
		if !found {
			out.reports, out.original = append(out.reports, r), append(out.original, i)
			continue
		}
		field := fmt.Sprintf("reports[%d].%s", i, itemField(rel))
		part := map[string]string{"results": "result", "error": "error", "metadata": "metadata"}[itemField(rel)]
		refusal := nulError(fmt.Sprintf("reports[%d].%s", i, rel), map[string]any{"field": field,
			"path": fmt.Sprintf("reports[%d].%s", i, rel), "step_id": r.StepID, "index": i}).(*errs.Error)
		out.refused[i] = refusal
		if part == "" || CheckText("worker_id", r.WorkerID, WidthWorkerID, true) != nil {
			continue // not a report this worker can make: refused, nothing written
		}
		permanent := false
		out.reports = append(out.reports, store.StepReport{StepID: r.StepID, WorkerID: r.WorkerID, Attempt: r.Attempt,
			Error: &store.StepError{Message: fmt.Sprintf("%s refused: contains U+0000 at %s (PostgreSQL cannot store it)", part, rel),
				Type: string(errs.Validation), Code: "nul_character", Retryable: &permanent},
			Metadata: map[string]any{"refused_field": field}})
		out.original = append(out.original, i)
	}
	return out, nil
}

// prefixField puts the item's place in front of a decoding error's field.
func prefixField(err error, item string) error {
	e, ok := err.(*errs.Error)
	if !ok {
		return err
	}
	d := map[string]any{"index": item}
	for k, v := range e.Details {
		d[k] = v
	}
	if f, ok := d["field"].(string); ok {
		d["field"] = item + "." + f
	}
	return &errs.Error{Kind: e.Kind, Message: item + ": " + e.Message, Details: d, Err: e.Err}
}

// merge puts the store's outcomes back at their items' indexes, with the refused
// items' errors (a refused item the store did not see is a rejected outcome).
func (it reportItems) merge(res reportResult) reportResult {
	if len(it.refused) == 0 {
		return res
	}
	out := make([]batchOutcome, it.all)
	for j, o := range res.Outcomes {
		o.Index = it.original[j]
		out[o.Index] = o
	}
	for i, e := range it.refused {
		if out[i].Status == "" {
			sid, _ := e.Details["step_id"].(int64)
			out[i] = batchOutcome{Index: i, StepID: sid, Status: store.OutcomeRejected}
		}
		out[i].Error = ErrorOf(e)
	}
	res.Outcomes = out
	return res
}

// parseReports decodes the reports of report_step_results / report_and_claim
// (and report_and_claim's claim). The items are decoded one by one only when the
// payload carries U+0000 somewhere (refuseNUL let it through: it is in an item).
func parseReports(payload []byte, withClaim bool) (reportItems, json.RawMessage, error) {
	var claim json.RawMessage
	if !jsonnul.Contains(payload) {
		var r struct {
			Reports []store.StepReport `json:"reports"`
			Claim   json.RawMessage    `json:"claim"`
		}
		if err := decode(payload, &r); err != nil {
			return reportItems{}, nil, err
		}
		claim = r.Claim
		if !withClaim && claim != nil {
			return reportItems{}, nil, errs.New(errs.Validation, map[string]any{"field": "claim"}, `unknown field "claim"`)
		}
		return reportItems{reports: r.Reports, all: len(r.Reports)}, claim, nil
	}
	var r struct {
		Reports []json.RawMessage `json:"reports"`
		Claim   json.RawMessage   `json:"claim"`
	}
	if err := decode(payload, &r); err != nil {
		return reportItems{}, nil, err
	}
	if !withClaim && r.Claim != nil {
		return reportItems{}, nil, errs.New(errs.Validation, map[string]any{"field": "claim"}, `unknown field "claim"`)
	}
	items, err := decodeReports(r.Reports)
	return items, r.Claim, err
}

// refusedUpdate turns a batch update carrying U+0000 into what is stored instead:
// a result (→complete or →error) becomes a permanent failure saying why, so its
// step does not stay in_progress; any other update is refused (ok false).
func refusedUpdate(i int, u batchItem) (store.StepTransition, *errs.Error, bool) {
	field := fmt.Sprintf("updates[%d].%s", i, itemField(u.nulPath))
	path := fmt.Sprintf("updates[%d].%s", i, u.nulPath)
	refusal := nulError(path, map[string]any{"field": field, "path": path, "step_id": u.StepID, "index": i}).(*errs.Error)
	part := map[string]string{"results": "result", "metadata": "metadata"}[itemField(u.nulPath)]
	if part == "" || (u.State != state.Complete && u.State != state.Error) {
		return store.StepTransition{}, refusal, false
	}
	msg := fmt.Sprintf("%s refused: contains U+0000 at %s (PostgreSQL cannot store it)", part, u.nulPath)
	b, _ := json.Marshal(map[string]any{"error": store.StepError{Message: msg, Type: string(errs.Validation), Code: "nul_character"}})
	return store.StepTransition{StepID: u.StepID, To: state.Error, From: u.FromState, Results: b, Permanent: true,
		Metadata: map[string]any{"error": msg, "refused_field": field}}, refusal, true
}
