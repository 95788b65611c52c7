package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// traceSinkEnv makes the test binary a trace sink instead of running tests: an
// OTLP/HTTP receiver on loopback that reads and discards every request. It runs
// in a child process so that its CPU time and allocations (a collector's, not
// Tasker Core's) stay out of BenchmarkTelemetry's per-step figures.
const traceSinkEnv = "TASKER_BENCH_TRACE_SINK"

func TestMain(m *testing.M) {
	if os.Getenv(traceSinkEnv) == "1" {
		os.Exit(serveTraceSink())
	}
	os.Exit(m.Run())
}

// serveTraceSink prints its URL on stdout and serves until stdin closes (the
// parent ended or closed the pipe).
func serveTraceSink() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "trace sink:", err)
		return 1
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
	}()
	fmt.Println("http://" + ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startTraceSink runs this test binary as a trace sink and returns its base URL;
// the sink ends with the benchmark.
func startTraceSink(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), traceSinkEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	must(b, err)
	stdout, err := cmd.StdoutPipe()
	must(b, err)
	must(b, cmd.Start())
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("trace sink: %v", err)
	}
	return strings.TrimSpace(line)
}
