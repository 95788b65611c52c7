// Package pgcluster gives a test a throwaway PostgreSQL cluster of its own, which
// the test may stop and start (outage tests) — never the shared server. It is
// made like scripts/with-postgres.sh makes one: initdb with trust auth, listening
// on 127.0.0.1 only, its socket in its own directory, fsync off; as root, initdb
// and pg_ctl run as the postgres OS user.
package pgcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running (or stopped) throwaway cluster.
type Cluster struct {
	t      testing.TB
	bindir string
	dir    string
	port   int
	asPG   bool
}

// bindir finds the newest PostgreSQL server binaries.
func bindir() string {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(found)
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// New initdb's and starts a cluster, stopped and removed when the test ends. The
// test is skipped, saying why, when no PostgreSQL server binaries are installed
// (scripts/ensure-deps.sh postgres installs them).
func New(t testing.TB) *Cluster {
	t.Helper()
	bin := bindir()
	if bin == "" {
		t.Skip("no PostgreSQL server binaries (initdb) installed: run scripts/ensure-deps.sh postgres")
	}
	c := &Cluster{t: t, bindir: bin, asPG: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "tasker-pgcluster-")
	if err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
	c.dir = dir
	t.Cleanup(c.remove)
	if err := os.Mkdir(filepath.Join(dir, "sock"), 0o700); err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
	if c.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres OS user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, filepath.Join(dir, "sock")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatalf("pgcluster: %v", err)
			}
		}
	}
	c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\n"+
		"synchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\n", filepath.Join(dir, "sock"))
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("pgcluster: configure: %v", err)
	}
	c.port = freePort(t)
	c.Start()
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.port)
}

// Start starts the cluster and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "postgres.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d", c.port), "start")
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.URL())
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return
		}
		cancel()
		if time.Now().After(deadline) {
			c.t.Fatalf("pgcluster: started but does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the cluster (fast shutdown: sessions are cut, as in an outage).
func (c *Cluster) Stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

func (c *Cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		_ = c.command("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "-t", "30", "stop").Run()
	}
	_ = os.RemoveAll(c.dir)
}

func (c *Cluster) command(tool string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bindir, tool)
	var cmd *exec.Cmd
	if c.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

func (c *Cluster) run(tool string, args ...string) {
	c.t.Helper()
	if out, err := c.command(tool, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		c.t.Fatalf("pgcluster: %s %v: %v\n%s\n%s", tool, args, err, out, log)
	}
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgcluster: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
