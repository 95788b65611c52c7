package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/taskercore/tasker-core/core/errs"
)

// Health endpoints (and the names of the health checks of the JSON API).
const (
	HealthLive   = "live"
	HealthReady  = "ready"
	HealthStatus = "status"
)

// HealthFunc answers one health check: the HTTP status code (200 or 503) and
// the JSON body.
type HealthFunc func(ctx context.Context, check string) (int, any)

// readHeaderTimeout bounds a slow client's request headers on the listener.
const readHeaderTimeout = 5 * time.Second

// Serve starts the optional listener (metrics.listen) serving /metrics and
// /health/live, /health/ready, /health/status. It returns once the port is
// bound (a taken port is a configuration_error); Shutdown stops it.
func (t *Telemetry) Serve(addr string, health HealthFunc) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errs.New(errs.Configuration, map[string]any{"key": "metrics.listen", "value": addr},
			"metrics.listen %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		if !t.MetricsEnabled() {
			http.Error(w, "metrics.enabled is false", http.StatusNotFound)
			return
		}
		body, err := t.Text()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		_, _ = w.Write(body)
	})
	for _, check := range []string{HealthLive, HealthReady, HealthStatus} {
		mux.HandleFunc("/health/"+check, func(w http.ResponseWriter, r *http.Request) {
			code, body := health(r.Context(), check)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(body)
		})
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	t.srvMu.Lock()
	t.srv, t.ln = srv, ln
	t.srvMu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return nil
}

// ListenAddr is the listener's bound address ("" when none), e.g. when
// metrics.listen asked for port 0.
func (t *Telemetry) ListenAddr() string {
	if t == nil {
		return ""
	}
	t.srvMu.Lock()
	defer t.srvMu.Unlock()
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

// ContentType is the Prometheus text exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"
