package api

import (
	"context"

	"github.com/taskercore/tasker-core/core/adoption"
)

// The pre-flight report of adopting a tasker-engine database in place (package
// core/adoption): what Migrate would change in the client's schema and what
// stands in its way. It never writes (one READ ONLY transaction), so it runs
// against a production engine database before anything is decided, from a
// client opened with migrate: false.
func init() {
	operations["adoption_report"] = adoptionReport
}

func adoptionReport(ctx context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	return adoption.Inspect(ctx, c.store.Pool())
}
