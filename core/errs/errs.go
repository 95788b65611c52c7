package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The strings are part of the FFI contract.
type Kind string

// The error kinds.
const (
	Validation       Kind = "validation_error"       // bad input: fields, types, values
	NotFound         Kind = "not_found"              // unknown task, step, named task
	StateTransition  Kind = "state_transition_error" // illegal transition or a lost compare-and-swap
	Cycle            Kind = "cycle_error"            // a dependency cycle
	Database         Kind = "database_error"         // the database failed or is unreachable
	Configuration    Kind = "configuration_error"    // bad configuration
	Timeout          Kind = "timeout_error"          // a deadline passed
	FFI              Kind = "ffi_error"              // misuse of the C API: NULL pointer, invalid or freed handle
	PermissionDenied Kind = "permission_denied"      // an authorizer refused an operator action
	Internal         Kind = "internal_error"         // a bug: a recovered panic, say
)

// Error is a typed Tasker Core error.
type Error struct {
	Kind    Kind
	Message string
	Details map[string]any
	Err     error // the cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause so errors.Is and errors.As see through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Kind: k}) match any error of kind k.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Kind == e.Kind
}

// New returns an error of the given kind. details may be nil.
func New(kind Kind, details map[string]any, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Details: details}
}

// Wrap returns an error of the given kind caused by err; nil stays nil.
func Wrap(kind Kind, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if msg != "" {
		msg += ": " + err.Error()
	}
	return &Error{Kind: kind, Message: msg, Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal for an
// error that is not typed, and "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// DetailsOf returns the details of the first *Error in err's chain.
func DetailsOf(err error) map[string]any {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

// Of is a target for errors.Is: errors.Is(err, errs.Of(errs.NotFound)).
func Of(kind Kind) error { return &Error{Kind: kind} }
