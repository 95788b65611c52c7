// Package api is Tasker Core's JSON API: a Client opened from a JSON configuration,
// and Call, which decodes a JSON payload strictly, runs one operation of the core,
// and encodes the result or a typed error as an envelope. The C API (capi/) is a
// thin layer over this package that only converts C strings and handles; everything
// it exposes is tested here in Go against a real PostgreSQL.
//
// # Start here
//
//	c, err := api.Open(ctx, []byte(`{"database_url": "postgres://…", "migrate": true}`))
//	defer c.Close()
//	envelope := c.CallJSON(ctx, "create_task", []byte(`{"name": "order", "steps": [{"name": "a"}]}`))
//
// Open reads the configuration (core/config: defaults, the YAML file, TASKER_*
// variables, the explicit keys of the JSON), connects, optionally migrates, syncs
// the retry policy and registers the configured templates. Call runs one
// operation by its name — the names are the C API's functions of docs/ffi.md, and
// a test holds that document equal to the operations registered here and to the
// exports of capi/ — under api.call_timeout_ms, after bounding the payload's size
// and depth and refusing U+0000. Methods lists the operations.
//
// An envelope is {"ok": true, "data": …} or {"ok": false, "error": {"type",
// "message", "details"}}, type being an errs.Kind. Payloads are decoded strictly
// (unknown fields, wrong types and missing required fields are validation errors
// naming the field), and every value a column bounds is checked before any SQL
// runs (inputcheck.go).
//
// Operations live in files by subject: ops.go (tasks, readiness, orchestration,
// events), templates.go, live.go (the in-process event stream), operator.go (the
// operator API of core/operator), adoption.go (the pre-flight report of
// core/adoption) — each later file registers its operations from init.
package api
