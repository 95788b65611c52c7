// Package errs defines the typed errors Tasker Core returns across its layers. Each
// error has a Kind that the C API puts in its envelope and the Ruby gem maps to an
// exception class, plus structured details (which steps, which states) for callers
// that need more than a message.
//
// # Start here
//
//	if errs.KindOf(err) == errs.StateTransition && errs.DetailsOf(err)["conflict"] == true {
//		// another writer won the compare-and-swap: re-read and decide again
//	}
//	errors.Is(err, errs.Of(errs.NotFound))
//
// The kinds are part of the FFI contract: docs/ffi.md lists each with the Ruby
// class it becomes, and docs/troubleshooting.md says what each means and what to
// do (tests hold both documents to the constants of this package). An error
// without a Kind (an untyped error reaching the API) counts as Internal.
package errs
