//go:build linux

package pollconn_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskercore/tasker-core/internal/pollconn"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// pair returns a Conn dialed to a loopback listener and the server's end.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- s
	}()
	dial := pollconn.Wrap(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
	c, err := dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = s.Close(); _ = c.Close() })
	if _, ok := c.(*pollconn.Conn); !ok {
		t.Fatalf("Wrap returned a %T, not a *pollconn.Conn", c)
	}
	return c, s
}

func TestReadWriteBothWays(t *testing.T) {
	c, s := pair(t)
	// More than a socket buffer: Write must wait in poll for the reader.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(s, int64(len(big))))
		got <- b
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the server read %d bytes, not the %d written", len(b), len(big))
	}
	go func() { _, _ = s.Write([]byte("pong")) }()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("ReadFull = %q, %v", buf, err)
	}
	if c.LocalAddr().String() == "" || c.RemoteAddr().String() != s.LocalAddr().String() {
		t.Fatalf("addresses %v → %v, server %v", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr())
	}
}

func TestEOFWhenThePeerCloses(t *testing.T) {
	c, s := pair(t)
	_ = s.Close()
	if _, err := c.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("Read after the peer closed = %v, want io.EOF", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

func TestDeadlines(t *testing.T) {
	c, _ := pair(t)
	if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("Read past its deadline = %v, want a timeout", err)
	}
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 5*time.Second {
		t.Fatalf("the 50 ms deadline ended the read after %v", d)
	}
	if err := c.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); !isTimeout(err) {
		t.Fatalf("Write past its deadline = %v, want a timeout", err)
	}
}

// readSyscalls is the calling thread's count of read system calls
// (/proc/thread-self/io's syscr; poll is not one of them). The caller locks
// its goroutine to its thread.
func readSyscalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/io")
	if err != nil {
		t.Skipf("no /proc/thread-self/io to count read system calls: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscr line in /proc/thread-self/io")
	return 0
}

// After a Write the answer cannot be there yet: the Read waits in poll(2) first
// and reads once, instead of a read that fails with EAGAIN, the poll, and a
// second read. Counted on the reading thread over many request/answer pairs
// whose answers come late (the server answers after the Read has begun
// waiting).
func TestReadAfterWriteReadsOnce(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, s := pair(t)
	const pairs = 40
	answer := make(chan struct{})
	go func() {
		for range answer {
			time.Sleep(2 * time.Millisecond) // the client's Read is waiting by now
			if _, err := s.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	defer close(answer)
	buf := make([]byte, 1)
	before := readSyscalls(t)
	for i := 0; i < pairs; i++ {
		if _, err := c.Write([]byte("q")); err != nil { // the server never reads: no read of its own
			t.Fatal(err)
		}
		answer <- struct{}{}
		if _, err := c.Read(buf); err != nil || buf[0] != 'a' {
			t.Fatalf("Read = %q, %v", buf, err)
		}
	}
	reads := readSyscalls(t) - before
	t.Logf("%d read system calls for %d request/answer pairs", reads, pairs)
	// One read a pair, plus the /proc file's own; a read tried before the
	// poll would make it two a pair.
	if reads > pairs+4 {
		t.Fatalf("%d read system calls for %d request/answer pairs: more than one a pair", reads, pairs)
	}
	// The answer already there (the Read comes late): still read, at once.
	if _, err := c.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	answer <- struct{}{}
	time.Sleep(50 * time.Millisecond)
	if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err != nil || buf[0] != 'a' {
		t.Fatalf("Read of an answer already there = %q, %v", buf, err)
	}
	// A Read after a Write still honours its deadline when no answer comes.
	if _, err := c.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); !isTimeout(err) {
		t.Fatalf("Read after a Write with no answer = %v, want a timeout", err)
	}
}

// A deadline set while a Read waits applies at once (pgx cancels a query so).
func TestSetDeadlineWakesAWaitingRead(t *testing.T) {
	c, s := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the read is waiting in poll
	select {
	case err := <-done:
		t.Fatalf("Read returned before any data or deadline: %v", err)
	default:
	}
	if err := c.SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("Read = %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetDeadline did not wake the waiting Read")
	}
	// Clearing the deadline makes the Conn usable again.
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = s.Write([]byte("z")) }()
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil || buf[0] != 'z' {
		t.Fatalf("Read after clearing the deadline = %q, %v", buf, err)
	}
}

func TestCloseWakesAWaitingRead(t *testing.T) {
	c, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Read on a closed Conn returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the waiting Read")
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

// pgx over a Conn: queries work (over TLS when the server offers it, as the
// test server does), and a context that ends cancels a running statement.
func TestPgxOverPollConn(t *testing.T) {
	cfg, err := pgx.ParseConfig(testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = pgconn.DialFunc(pollconn.Wrap(pollconn.DialFunc(cfg.DialFunc)))
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	nc := conn.PgConn().Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if _, ok := nc.(*pollconn.Conn); !ok {
		t.Fatalf("pgx's connection is a %T, not a *pollconn.Conn", nc)
	}
	var s string
	if err := conn.QueryRow(ctx, `SELECT repeat('x', 100000)`).Scan(&s); err != nil || len(s) != 100000 {
		t.Fatalf("query: %d bytes, %v", len(s), err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = conn.Exec(short, `SELECT pg_sleep(30)`)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("pg_sleep(30) under a 100 ms context: %v after %v", err, time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("pg_sleep(30) under a 100 ms context: %v, want a deadline or cancel error", err)
	}
}
