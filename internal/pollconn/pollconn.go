//go:build linux

// Package pollconn turns a dialed socket into a net.Conn that waits for it in
// poll(2) on the calling thread, as libpq does, instead of in Go's network poller.
//
// Why: a call into the C library runs on the host's thread (Ruby's), and the Go
// runtime locks the calling goroutine to it. When that goroutine waits in the
// network poller, the thread must hand its P to another thread, which polls and
// then hands the goroutine back: two threads woken and put to sleep per round
// trip, and the runtime's monitor (sysmon) woken at the end of every call. A wait
// in poll(2) is one blocking system call on the thread that asked: the kernel
// wakes that thread when the answer arrives. Go callers lose little: the wait
// holds an OS thread, as a blocking system call does (one per busy connection).
//
// Deadlines (which pgx uses to cancel a query when its context ends) are poll's
// timeout; SetDeadline wakes a waiting poll through an eventfd so the new
// deadline applies at once. Close shuts the socket down, which wakes any waiter,
// and closes the descriptors once no Read or Write is using them.
package pollconn

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DialFunc is the signature of pgconn.Config.DialFunc.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Wrap returns a DialFunc that dials with dial and converts the connection
// (TCP or Unix socket) to a Conn; other connection types are returned as they are.
func Wrap(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c, err := FromConn(nc)
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		return c, nil
	}
}

// FromConn converts a *net.TCPConn or *net.UnixConn to a Conn: it duplicates
// the socket's descriptor (which stays non-blocking) and closes nc. Other
// connections are returned unchanged.
func FromConn(nc net.Conn) (net.Conn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc, nil
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nc, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, os.NewSyscallError("fcntl", dupErr)
	}
	c, err := newConn(fd, nc.LocalAddr(), nc.RemoteAddr())
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	// The duplicate shares the socket (and its O_NONBLOCK flag); the original
	// descriptor leaves Go's poller.
	_ = nc.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = c.Close()
		return nil, os.NewSyscallError("fcntl", err)
	}
	return c, nil
}

// Conn is a socket waited for in poll(2). Read and Write may run concurrently
// (one of each at a time, as net.Conn users do); SetDeadline and Close from any
// goroutine.
type Conn struct {
	fd            int
	rwake, wwake  int // eventfds: a deadline changed or the Conn closed
	local, remote net.Addr

	// answerDue is set when a Write has sent bytes and no Read has run since:
	// the peer's answer cannot be there yet, so the next Read waits in poll(2)
	// before reading instead of trying a read that fails with EAGAIN first (one
	// system call fewer per round trip; a read that finds data already there
	// costs one more, the poll that returns at once).
	answerDue atomic.Bool

	mu       sync.Mutex
	cond     *sync.Cond // signalled when inflight drops to 0
	inflight int
	closed   bool
	rdl, wdl time.Time
}

func newConn(fd int, local, remote net.Addr) (*Conn, error) {
	rwake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	wwake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(rwake)
		return nil, os.NewSyscallError("eventfd", err)
	}
	c := &Conn{fd: fd, rwake: rwake, wwake: wwake, local: local, remote: remote}
	c.cond = sync.NewCond(&c.mu)
	return c, nil
}

var errClosed = net.ErrClosed

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.remote.Network(), Source: c.local, Addr: c.remote, Err: err}
}

// enter marks an operation in flight; false when the Conn is closed.
func (c *Conn) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.inflight++
	return true
}

func (c *Conn) leave() {
	c.mu.Lock()
	c.inflight--
	if c.inflight == 0 {
		c.cond.Broadcast()
	}
	c.mu.Unlock()
}

// wait polls the socket for events until it is ready, the deadline passes (an
// os.ErrDeadlineExceeded error) or the Conn closes.
func (c *Conn) wait(events int16, write bool) error {
	wake := c.rwake
	if write {
		wake = c.wwake
	}
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: events}, {Fd: int32(wake), Events: unix.POLLIN}}
	for {
		c.mu.Lock()
		closed, dl := c.closed, c.rdl
		if write {
			dl = c.wdl
		}
		c.mu.Unlock()
		if closed {
			return errClosed
		}
		timeout := -1
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			timeout = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR || n == 0 {
			continue // a signal, or poll's timeout: the loop checks the deadline
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if fds[1].Revents != 0 {
			var buf [8]byte
			_, _ = unix.Read(wake, buf[:]) // drained; recheck deadline and closed
			continue
		}
		if fds[0].Revents != 0 {
			return nil // ready, or an error/hang-up the next read or write reports
		}
	}
}

// expired reports whether the read (or write) deadline has passed.
func (c *Conn) expired(write bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	dl := c.rdl
	if write {
		dl = c.wdl
	}
	return !dl.IsZero() && !time.Now().Before(dl)
}

// Read reads from the socket, waiting in poll(2) when nothing is there yet.
func (c *Conn) Read(b []byte) (int, error) {
	if !c.enter() {
		return 0, c.opError("read", errClosed)
	}
	defer c.leave()
	if c.expired(false) {
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	}
	if len(b) == 0 {
		return 0, nil
	}
	if c.answerDue.Swap(false) {
		if err := c.wait(unix.POLLIN, false); err != nil {
			return 0, c.opError("read", err)
		}
	}
	for {
		n, err := unix.Read(c.fd, b)
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return 0, c.opError("read", os.NewSyscallError("read", err))
		}
		if err := c.wait(unix.POLLIN, false); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

// Write writes all of b, waiting in poll(2) while the socket's buffer is full.
func (c *Conn) Write(b []byte) (int, error) {
	if !c.enter() {
		return 0, c.opError("write", errClosed)
	}
	defer c.leave()
	if c.expired(true) {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	written := 0
	for written < len(b) {
		n, err := unix.Write(c.fd, b[written:])
		if n > 0 {
			written += n
			c.answerDue.Store(true)
		}
		switch {
		case err == nil, err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return written, c.opError("write", os.NewSyscallError("write", err))
		}
		if err := c.wait(unix.POLLOUT, true); err != nil {
			return written, c.opError("write", err)
		}
	}
	return written, nil
}

// Close shuts the socket down (waking any waiter), waits for Read and Write in
// flight to return, then closes the descriptors. A second Close is an error.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("close", errClosed)
	}
	c.closed = true
	c.mu.Unlock()
	_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
	c.signal(true, true)
	c.mu.Lock()
	for c.inflight > 0 {
		c.cond.Wait()
	}
	c.mu.Unlock()
	err := unix.Close(c.fd)
	_ = unix.Close(c.rwake)
	_ = unix.Close(c.wwake)
	if err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

func (c *Conn) signal(read, write bool) {
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	if read {
		_, _ = unix.Write(c.rwake, one)
	}
	if write {
		_, _ = unix.Write(c.wwake, one)
	}
}

// LocalAddr is the socket's local address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr is the socket's peer address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines (zero: none) and wakes a
// waiting Read or Write to apply them.
func (c *Conn) SetDeadline(t time.Time) error { return c.setDeadline(t, true, true) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, true, false) }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, false, true) }

func (c *Conn) setDeadline(t time.Time, read, write bool) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("set deadline", errClosed)
	}
	if read {
		c.rdl = t
	}
	if write {
		c.wdl = t
	}
	// Signal under the lock: Close waits for in-flight operations, not for
	// this, so the eventfds must still be open.
	c.signal(read, write)
	c.mu.Unlock()
	return nil
}

var _ net.Conn = (*Conn)(nil)
