// Package store opens the manager's database (SQLite by default, Postgres in
// production) through ent, applies schema upgrades, and offers the few
// transactional helpers the services need.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/migrate"
)

// Store owns the database connection and the ent client.
type Store struct {
	*ent.Client
	DB      *sql.DB
	Dialect string
	DSN     string

	schedMu sync.Mutex // serialises scheduling rounds within this process
}

var migrateMu sync.Mutex

// Advisory lock keys (Postgres): one namespace per purpose.
const (
	lockMigrate  int64 = 0x6261690001 // "bai" 1: schema upgrades
	lockSchedule int64 = 0x6261690002 // "bai" 2: scheduling rounds
)

// WithSchedulingLock runs fn while holding the cluster-wide scheduling lock:
// only one manager plans placements at a time, and it reads occupancy after
// the previous planner committed its placements, so no two managers can
// over-commit an agent. On Postgres this is a session-level advisory lock
// on a dedicated connection (released by the server if this process dies);
// SQLite has one manager, so a mutex is enough.
func (s *Store) WithSchedulingLock(ctx context.Context, fn func() error) error {
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	if s.Dialect != dialect.Postgres {
		return fn()
	}
	return withAdvisoryLock(ctx, s.DB, lockSchedule, fn)
}

func withAdvisoryLock(ctx context.Context, db *sql.DB, key int64, fn func() error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx ended; if this fails the connection is
		// closed by Close above and the server drops the lock.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn()
}

// IsPostgres reports whether dsn names a Postgres database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || strings.Contains(dsn, "host=")
}

// SQLiteDSN returns the DSN of an SQLite file with the pragmas we rely on:
// WAL for concurrent readers, a busy timeout instead of instant SQLITE_BUSY,
// foreign keys on, NORMAL sync (safe with WAL, much faster than FULL), and
// times stored as sortable "YYYY-MM-DD HH:MM:SS.fff+00:00" text so that
// comparisons in SQL (heartbeat timeouts) are correct.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
}

// Open connects to dsn (a Postgres URL, or an SQLite DSN / file path) and
// upgrades the schema. Upgrades only add tables, columns and indexes, so
// existing data is kept.
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		db   *sql.DB
		dial string
		err  error
	)
	if IsPostgres(dsn) {
		dial = dialect.Postgres
		db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(8)
	} else {
		dial = dialect.SQLite
		if !strings.HasPrefix(dsn, "file:") {
			if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
				return nil, fmt.Errorf("database directory: %w", err)
			}
			// Create the file owner-only before SQLite does, so secret keys
			// are never world-readable.
			if f, err := os.OpenFile(dsn, os.O_CREATE|os.O_RDWR, 0o600); err == nil {
				f.Close()
			}
			dsn = SQLiteDSN(dsn)
		}
		db, err = sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.SetMaxOpenConns(8)
		db.SetConnMaxIdleTime(time.Hour)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dial, db)))
	migrateFn := func() error {
		// ent's migration works on the generated table definitions, which
		// are package globals: one upgrade at a time in a process (tests
		// open several stores at once).
		migrateMu.Lock()
		defer migrateMu.Unlock()
		return client.Schema.Create(ctx, migrate.WithForeignKeys(true))
	}
	if dial == dialect.Postgres {
		// Managers started together must not upgrade the schema at once.
		err = withAdvisoryLock(ctx, db, lockMigrate, migrateFn)
	} else {
		err = migrateFn()
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("upgrade schema: %w", err)
	}
	return &Store{Client: client, DB: db, Dialect: dial, DSN: dsn}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.Client.Close() }

// Tx runs fn in a transaction, committing when it returns nil.
func (s *Store) Tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := s.Client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
