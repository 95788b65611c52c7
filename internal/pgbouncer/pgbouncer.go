// Package pgbouncer starts Debian's PgBouncer for a test or a benchmark: in
// front of the shared PostgreSQL, on a free port of 127.0.0.1, with a
// configuration written to a temporary directory, stopped when the test ends.
// As root it runs as the postgres OS user (PgBouncer refuses to run as root).
package pgbouncer

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options describe one PgBouncer.
type Options struct {
	// Upstream is the PostgreSQL URL PgBouncer connects to (host, port, user,
	// password and database are taken from it).
	Upstream string
	// Alias is the database name clients connect to; "tasker" when empty.
	Alias string
	// ConnectQuery runs on each new server connection (the session settings a
	// transaction pooler's clients cannot send: search_path, …).
	ConnectQuery string
	// PoolMode is transaction when empty.
	PoolMode string
	// PoolSize is default_pool_size: the server connections of the alias.
	PoolSize int
}

// Bouncer is a running PgBouncer.
type Bouncer struct {
	t     testing.TB
	dir   string
	port  int
	alias string
	user  string
	cmd   *exec.Cmd
	done  chan struct{}
}

// Binary is PgBouncer's path, or "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer"
	}
	return ""
}

// Start writes the configuration and starts PgBouncer, waiting until it
// answers. The test is skipped, saying why, when PgBouncer is not installed
// (scripts/ensure-deps.sh rails or bench installs it).
func Start(t testing.TB, o Options) *Bouncer {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("pgbouncer is not installed: run scripts/ensure-deps.sh bench (Debian's pgbouncer package)")
	}
	up, err := pgx.ParseConfig(o.Upstream)
	if err != nil {
		t.Fatalf("pgbouncer: upstream: %v", err)
	}
	if o.Alias == "" {
		o.Alias = "tasker"
	}
	if o.PoolMode == "" {
		o.PoolMode = "transaction"
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 2
	}
	dir, err := os.MkdirTemp("", "tasker-pgbouncer-")
	if err != nil {
		t.Fatalf("pgbouncer: %v", err)
	}
	b := &Bouncer{t: t, dir: dir, port: freePort(t), alias: o.Alias, user: up.User, done: make(chan struct{})}
	t.Cleanup(b.stop)
	host := up.Host
	if strings.HasPrefix(host, "/") {
		host = "127.0.0.1" // a socket directory the postgres OS user may not reach
	}
	db := fmt.Sprintf("host=%s port=%d dbname=%s user=%s", host, up.Port, up.Database, up.User)
	if up.Password != "" {
		db += " password=" + up.Password
	}
	if o.ConnectQuery != "" {
		db += " connect_query='" + strings.ReplaceAll(o.ConnectQuery, "'", "''") + "'"
	}
	ini := strings.Join([]string{
		"[databases]",
		o.Alias + " = " + db,
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(b.port),
		"unix_socket_dir =",
		"auth_type = trust",
		"auth_file = " + filepath.Join(dir, "users.txt"),
		"admin_users = " + up.User,
		"pool_mode = " + o.PoolMode,
		"default_pool_size = " + strconv.Itoa(o.PoolSize),
		"max_client_conn = 200",
		"logfile = " + filepath.Join(dir, "pgbouncer.log"),
		"pidfile = " + filepath.Join(dir, "pgbouncer.pid"),
		"",
	}, "\n")
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatalf("pgbouncer: %v", err)
		}
	}
	write("pgbouncer.ini", ini)
	write("users.txt", strconv.Quote(up.User)+` ""`+"\n")
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres OS user to run pgbouncer as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, filepath.Join(dir, "pgbouncer.ini"), filepath.Join(dir, "users.txt")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatalf("pgbouncer: %v", err)
			}
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatalf("pgbouncer: %v", err)
	}
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("pgbouncer: start: %v", err)
	}
	go func() {
		_ = b.cmd.Wait()
		_ = out.Close()
		close(b.done)
	}()
	b.waitReady()
	return b
}

// URL is a client URL of the alias through PgBouncer.
func (b *Bouncer) URL() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5", b.user, b.port, b.alias)
}

// Port is the port PgBouncer listens on.
func (b *Bouncer) Port() int { return b.port }

// Pid is the PgBouncer process's id.
func (b *Bouncer) Pid() int { return b.cmd.Process.Pid }

func (b *Bouncer) waitReady() {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-b.done:
			b.t.Fatalf("pgbouncer exited at start:\n%s", b.Log())
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("pgbouncer does not listen on %d: %v\n%s", b.port, err, b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log is what PgBouncer wrote (its log file and its output).
func (b *Bouncer) Log() string {
	l, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	o, _ := os.ReadFile(filepath.Join(b.dir, "stdout.log"))
	return string(l) + string(o)
}

// Show runs an admin console command (SHOW POOLS, SHOW SERVERS, SHOW STATS…)
// and returns its rows as maps of column to text.
func (b *Bouncer) Show(ctx context.Context, what string) ([]map[string]string, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@127.0.0.1:%d/pgbouncer?sslmode=disable", b.user, b.port))
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	res, err := conn.PgConn().Exec(ctx, "SHOW "+what).ReadAll()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, r := range res {
		for _, row := range r.Rows {
			m := map[string]string{}
			for i, f := range r.FieldDescriptions {
				m[f.Name] = string(row[i])
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// stop ends PgBouncer (SIGINT: a safe shutdown) and removes its directory.
func (b *Bouncer) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	}
	_ = os.RemoveAll(b.dir)
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgbouncer: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
