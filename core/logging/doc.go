// Package logging builds Tasker Core's structured logger (zerolog) from the
// configuration and names the standard fields every log line uses, so Go and
// Ruby lines about one task can be joined by correlation_id.
//
// # Start here
//
// New builds the logger of a *config.Config (logging.level, logging.format,
// logging.output) and returns what to close; NewWriter builds one on any writer.
// The constants name the standard fields (component, correlation_id, task_id,
// step_id, …); Err adds an error as {"type", "message"}; Redact masks passwords in
// database URLs, so no log line leaks one.
package logging
