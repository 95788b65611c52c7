//go:build !linux

// Package pollconn: on systems other than Linux, Wrap returns the dialer
// unchanged (connections wait in Go's network poller).
package pollconn

import (
	"context"
	"net"
)

// DialFunc is the signature of pgconn.Config.DialFunc.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Wrap returns dial unchanged.
func Wrap(dial DialFunc) DialFunc { return dial }

// FromConn returns nc unchanged.
func FromConn(nc net.Conn) (net.Conn, error) { return nc, nil }
