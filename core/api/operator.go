package api

import (
	"context"
	"sync"

	"github.com/taskercore/tasker-core/core/operator"
)

// The operator API (package core/operator, docs/operations.md): repairs of
// running workflows, each audited, authorized, idempotent on request and
// available as a dry run. Registered here so the operations' table in ops.go
// stays as it is.
func init() {
	for name, op := range operatorOperations {
		operations[name] = op
	}
}

var operatorOperations = map[string]operation{
	operator.OpCancelTask:           operatorCall((*operator.Service).CancelTask),
	operator.OpRetryTask:            operatorCall((*operator.Service).RetryTask),
	operator.OpResetAttempts:        operatorCall((*operator.Service).ResetAttempts),
	operator.OpForceCompleteTask:    operatorCall((*operator.Service).ForceCompleteTask),
	operator.OpForceFailTask:        operatorCall((*operator.Service).ForceFailTask),
	operator.OpUpdateTaskMetadata:   operatorCall((*operator.Service).UpdateTaskMetadata),
	operator.OpRetryStep:            operatorCall((*operator.Service).RetryStep),
	operator.OpResetStep:            operatorCall((*operator.Service).ResetStep),
	operator.OpResolveStep:          operatorCall((*operator.Service).ResolveStep),
	operator.OpUpdateStepResults:    operatorCall((*operator.Service).UpdateStepResults),
	operator.OpOverrideDependencies: operatorCall((*operator.Service).OverrideDependencies),
	operator.OpOperatorActions:      operatorActions,
}

// operatorCall decodes an operation's request strictly and runs it.
func operatorCall[R any](fn func(*operator.Service, context.Context, R) (operator.Result, error)) operation {
	return func(ctx context.Context, c *Client, payload []byte) (any, error) {
		var r R
		if err := decode(payload, &r); err != nil {
			return nil, err
		}
		return fn(c.operatorService(), ctx, r)
	}
}

func operatorActions(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r operator.ActionsRequest
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	actions, err := c.operatorService().OperatorActions(ctx, r)
	return map[string]any{"actions": actions}, err
}

// operatorAuth holds a client's Authorizer (nil: every actor may act).
type operatorAuth struct {
	mu sync.RWMutex
	a  operator.Authorizer
}

// SetAuthorizer installs the Authorizer asked before every operator action of
// this client (nil removes it). A refusal is a permission_denied error that
// writes nothing and is logged.
func (c *Client) SetAuthorizer(a operator.Authorizer) {
	c.opAuth.mu.Lock()
	c.opAuth.a = a
	c.opAuth.mu.Unlock()
}

func (c *Client) operatorService() *operator.Service {
	c.opAuth.mu.RLock()
	a := c.opAuth.a
	c.opAuth.mu.RUnlock()
	return operator.New(c.store, operator.Options{Authorizer: a, Logger: c.log})
}
