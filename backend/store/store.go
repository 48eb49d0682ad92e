// Package store opens the manager's database (SQLite by default, Postgres in
// production) through ent, applies schema upgrades, and offers the few
// transactional helpers the services need.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	if err := client.Schema.Create(ctx, migrate.WithForeignKeys(true)); err != nil {
		client.Close()
		return nil, fmt.Errorf("upgrade schema: %w", err)
	}
	return &Store{Client: client, DB: db, Dialect: dial}, nil
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
