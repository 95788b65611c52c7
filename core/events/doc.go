// Package events is Tasker Core's event catalog: the system events of REFERENCE §7
// (names are a compatibility contract with tasker-engine), defined in an embedded
// YAML file with a description, a payload JSON Schema and what fires each one, plus
// the custom events task templates declare; and the payloads state transitions
// publish. Delivery (the publisher and the durable outbox) builds on this.
//
// # Start here
//
// System returns the catalog of system_events.yml; Catalog.AddFile adds a file of
// custom event definitions. ForTaskTransition and ForStepTransition name the
// event of a transition and build its payload (the engine's field names, ISO-8601
// UTC timestamps). Match and ValidPattern implement subscription patterns
// ("step.*", "*"). A Publisher is the in-memory batching publisher of a client's
// live events (events.batch_size, events.flush_interval_ms, events.buffer_size,
// events.overflow) with its Metrics. The durable outbox lives in core/store;
// docs/events.md describes both deliveries.
package events
