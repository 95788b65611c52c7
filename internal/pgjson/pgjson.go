// Package pgjson makes pgx hand json and jsonb values to a json.RawMessage as
// the bytes PostgreSQL sent, copied, instead of through encoding/json.Unmarshal.
//
// pgx scans json(b) into any destination but *[]byte and *string by calling the
// codec's Unmarshal, and json.RawMessage's UnmarshalJSON comes after
// encoding/json has scanned the whole value to check it: for the results,
// contexts and step sequences the library passes on unread, that check was most
// of the CPU a claim spent in Go. PostgreSQL only ever sends valid JSON for these
// types, so the copy is the same value. Every other destination (maps,
// structs) is still decoded by encoding/json, as before.
package pgjson

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Unmarshal is encoding/json.Unmarshal, except that a *json.RawMessage gets a
// copy of data as it is.
func Unmarshal(data []byte, v any) error {
	if raw, ok := v.(*json.RawMessage); ok {
		*raw = bytes.Clone(data)
		return nil
	}
	return json.Unmarshal(data, v)
}

// Register replaces the json and jsonb codecs (and those of their arrays) of a
// connection's type map with ones that use Unmarshal.
func Register(m *pgtype.Map) {
	jsonType := &pgtype.Type{Name: "json", OID: pgtype.JSONOID, Codec: &pgtype.JSONCodec{Marshal: json.Marshal, Unmarshal: Unmarshal}}
	jsonbType := &pgtype.Type{Name: "jsonb", OID: pgtype.JSONBOID, Codec: &pgtype.JSONBCodec{Marshal: json.Marshal, Unmarshal: Unmarshal}}
	m.RegisterType(jsonType)
	m.RegisterType(jsonbType)
	m.RegisterType(&pgtype.Type{Name: "_json", OID: pgtype.JSONArrayOID, Codec: &pgtype.ArrayCodec{ElementType: jsonType}})
	m.RegisterType(&pgtype.Type{Name: "_jsonb", OID: pgtype.JSONBArrayOID, Codec: &pgtype.ArrayCodec{ElementType: jsonbType}})
}

// AfterConnect registers the codecs on a new connection: a pgxpool.Config's
// AfterConnect, or called from one.
func AfterConnect(_ context.Context, conn *pgx.Conn) error {
	Register(conn.TypeMap())
	return nil
}
