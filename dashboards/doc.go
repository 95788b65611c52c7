// Package dashboards holds the Grafana dashboard (tasker-core.json) and the
// Prometheus alerting rules (alerts.yml, unit-tested by alerts_test.yml) over
// Tasker Core's metrics, and the tests that keep them true: every query names
// a metric the library exports, promtool accepts and passes the rules, and a
// real Prometheus scrapes a worker (docs/observability.md). It has no code.
package dashboards
