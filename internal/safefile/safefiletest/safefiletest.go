// Package safefiletest makes the paths that must never be read — a device, a FIFO,
// a directory, a symbolic link to a device, a file over the limit — for the tests
// of every reader that goes through safefile, and guards those tests against the
// hang a FIFO causes when it is opened for reading.
package safefiletest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Limit is the files.max_bytes the cases are made for: OverSize is one byte
// larger.
const Limit = 64

// Case is one path a reader must refuse, and the words its error must contain.
type Case struct {
	Name string
	Path string
	Want string
}

// Cases makes the bad paths under a temporary directory of t. The file names end
// in .yml so that directory walks pick them up.
func Cases(t testing.TB) []Case {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	sub := filepath.Join(dir, "dir.yml")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero.yml")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", Limit-1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []Case{
		{"/dev/zero", "/dev/zero", "character device"},
		{"FIFO", fifo, "named pipe"},
		{"directory", sub, "directory"},
		{"symlink to /dev/zero", link, "character device"},
		{"over files.max_bytes", big, "larger than files.max_bytes"},
	}
}

// Within runs fn and fails t if it has not returned after d (a FIFO opened for
// reading blocks until a writer comes; the test must say so, not hang).
func Within(t testing.TB, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not return within %s: the reader blocked", d)
	}
}
