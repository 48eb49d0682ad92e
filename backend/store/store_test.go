package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/ent/user"
)

// TestUpgradeKeepsData opens a database written by an older schema (a users
// table without the later columns, holding a row) and checks that the
// upgrade adds what is missing and keeps the row.
func TestUpgradeKeepsData(t *testing.T) {
	ctx := context.Background()
	dbs := map[string]func(t *testing.T) (driver, dsn string){
		"sqlite": func(t *testing.T) (string, string) {
			p := filepath.Join(t.TempDir(), "old.db")
			return "sqlite", p
		},
	}
	if pg := os.Getenv("BAI_TEST_POSTGRES"); pg != "" {
		dbs["postgres"] = func(t *testing.T) (string, string) {
			admin, err := sql.Open("pgx", pg)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("bai_upgrade_%d", time.Now().UnixNano())
			if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); admin.Close() })
			u, _ := url.Parse(pg)
			u.Path = "/" + name
			return "pgx", u.String()
		}
	}
	for name, mk := range dbs {
		t.Run(name, func(t *testing.T) {
			driver, dsn := mk(t)
			raw, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			// The first schema of the users table, before username,
			// domain_name and is_active existed.
			if _, err := raw.Exec(`CREATE TABLE users (id uuid NOT NULL PRIMARY KEY, email varchar NOT NULL UNIQUE,
				role varchar NOT NULL DEFAULT 'user', created_at timestamp with time zone NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(`INSERT INTO users (id, email, role, created_at) VALUES ('7c9e6679-7425-40de-944b-e07fc1f90ae7', 'old@example.com', 'user', CURRENT_TIMESTAMP)`); err != nil {
				t.Fatal(err)
			}
			raw.Close()

			st, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			defer st.Close()
			u, err := st.User.Query().Where(user.EmailEQ("old@example.com")).Only(ctx)
			if err != nil {
				t.Fatalf("row lost in upgrade: %v", err)
			}
			if !u.IsActive || u.DomainName != "default" {
				t.Errorf("new columns lack their defaults: %+v", u)
			}
			if _, err := st.User.Create().SetEmail("new@example.com").Save(ctx); err != nil {
				t.Fatalf("write after upgrade: %v", err)
			}
		})
	}
}
