// Package ent holds the database schema (schema/) and the code entc
// generates from it. Regenerate with `make gen`; the generated code is
// committed and CI fails when it is stale.
package ent

//go:generate go run entgo.io/ent/cmd/ent generate --feature sql/upsert,sql/lock,sql/modifier ./schema
