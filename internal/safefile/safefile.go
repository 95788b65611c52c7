// Package safefile reads the files a configuration names — the configuration file,
// task templates, event definitions — without letting a wrong path hurt the host
// process: only regular files are read (a FIFO would block the reader forever, a
// device like /dev/zero would fill memory), and only up to a size (files.max_bytes).
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/taskercore/tasker-core/core/errs"
)

// Sentinel causes, for errors.Is.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
)

// Read returns the contents of the regular file at path (symbolic links are
// followed), refusing anything else and any file larger than maxBytes. Errors are
// errs.Configuration naming the path (details "path", and "max_bytes" for a file
// too large); a missing file's error wraps fs.ErrNotExist.
func Read(path string, maxBytes int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fail(path, err)
	}
	if err := check(path, info, maxBytes); err != nil {
		return nil, err
	}
	// O_NONBLOCK: the path may have been replaced by a FIFO since the Stat, and
	// opening a FIFO without a writer blocks; with O_NONBLOCK the open returns and
	// the Stat of the opened file refuses it. Regular files ignore the flag.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fail(path, err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, fail(path, err)
	}
	if err := check(path, info, maxBytes); err != nil {
		return nil, err
	}
	// One byte more than allowed tells a file that grew past the limit since the
	// Stat from one that is exactly at it.
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fail(path, err)
	}
	if int64(len(data)) > maxBytes {
		return nil, tooLarge(path, maxBytes)
	}
	return data, nil
}

func check(path string, info fs.FileInfo, maxBytes int64) error {
	if !info.Mode().IsRegular() {
		return &errs.Error{Kind: errs.Configuration, Details: map[string]any{"path": path, "file_type": typeName(info.Mode())},
			Message: fmt.Sprintf("%s is %s, not a regular file", path, typeName(info.Mode())), Err: ErrNotRegular}
	}
	if info.Size() > maxBytes {
		return tooLarge(path, maxBytes)
	}
	return nil
}

// CheckSize refuses content of n bytes that stands for the file at path (read
// by the caller, e.g. a host that rendered its ERB) when it exceeds maxBytes,
// with the error Read gives for such a file.
func CheckSize(path string, n int, maxBytes int64) error {
	if int64(n) > maxBytes {
		return tooLarge(path, maxBytes)
	}
	return nil
}

func tooLarge(path string, maxBytes int64) error {
	return &errs.Error{Kind: errs.Configuration, Details: map[string]any{"path": path, "max_bytes": maxBytes},
		Message: fmt.Sprintf("%s is larger than files.max_bytes (%d bytes)", path, maxBytes), Err: ErrTooLarge}
}

func fail(path string, err error) error {
	var pe *fs.PathError
	msg := err.Error()
	if errors.As(err, &pe) {
		msg = pe.Err.Error() // the path is in front already
	}
	return &errs.Error{Kind: errs.Configuration, Details: map[string]any{"path": path},
		Message: fmt.Sprintf("%s: %s", path, msg), Err: err}
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}
