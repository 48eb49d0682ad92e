package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
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

// TestSchedulingLockAcrossStores: two stores on one Postgres database (two
// manager replicas) never hold the scheduling lock at once, and a replica
// that dies holding it (its connection closes) releases it.
func TestSchedulingLockAcrossStores(t *testing.T) {
	pg := os.Getenv("BAI_TEST_POSTGRES")
	if pg == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("BAI_TEST_POSTGRES must be set in CI")
		}
		t.Skip("needs Postgres: set BAI_TEST_POSTGRES")
	}
	admin, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("bai_lock_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	u, _ := url.Parse(pg)
	u.Path = "/" + name
	ctx := context.Background()
	// Opened together: the schema upgrade is serialised too.
	stores := make([]*store.Store, 2)
	errs := make(chan error, 2)
	for i := range stores {
		go func(i int) {
			var err error
			stores[i], err = store.Open(ctx, u.String())
			errs <- err
		}(i)
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatalf("open: %v", err)
		}
	}
	defer stores[0].Close()

	var inside, overlaps, rounds int32
	done := make(chan struct{})
	for i := range stores {
		go func(st *store.Store) {
			for j := 0; j < 20; j++ {
				_ = st.WithSchedulingLock(ctx, func() error {
					if n := atomicAdd(&inside, 1); n > 1 {
						atomicAdd(&overlaps, 1)
					}
					time.Sleep(2 * time.Millisecond)
					atomicAdd(&inside, -1)
					atomicAdd(&rounds, 1)
					return nil
				})
			}
			done <- struct{}{}
		}(stores[i])
	}
	<-done
	<-done
	if overlaps != 0 || rounds != 40 {
		t.Fatalf("rounds %d, overlapping %d", rounds, overlaps)
	}
	// A replica that goes away while holding the lock does not block the
	// other: closing its pool closes the lock's connection.
	held := make(chan struct{})
	go func() {
		_ = stores[1].WithSchedulingLock(ctx, func() error {
			close(held)
			time.Sleep(200 * time.Millisecond)
			stores[1].DB.Close()
			return nil
		})
	}()
	<-held
	got := make(chan error, 1)
	go func() { got <- stores[0].WithSchedulingLock(ctx, func() error { return nil }) }()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the lock of a closed replica was never released")
	}
}

func atomicAdd(p *int32, d int32) int32 { return atomic.AddInt32(p, d) }

// TestSQLiteFileOwnerOnly: the database holds secret keys, so its file (and
// the directory made for it) are created readable by the owner only.
func TestSQLiteFileOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p := filepath.Join(dir, "bai.db")
	st, err := store.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The write-ahead log holds recent writes (new secret keys) too.
	if _, err := st.User.Create().SetEmail("x@example.com").Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{p: 0o600, dir: 0o700, p + "-wal": 0o600, p + "-shm": 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", path, got, want)
		}
	}
}
