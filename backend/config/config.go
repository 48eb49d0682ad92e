// Package config holds the manager's settings. It is the only place of the
// manager that may read the environment; main fills Config from flags and
// environment variables and passes it down.
package config

import "time"

// Config holds every setting of the manager.
type Config struct {
	// ListenAddr is the public API address, e.g. 127.0.0.1:8081.
	ListenAddr string
	// DatabaseURL is a Postgres URL, or an SQLite file path.
	DatabaseURL string
	// DataDir holds the SQLite file and generated secrets by default.
	DataDir string
	// ClusterSecret authenticates agents to the manager and back.
	ClusterSecret string
	// AgentTimeout marks an agent LOST when no heartbeat came for this long.
	AgentTimeout time.Duration
	// DateSkew is how far a request's date may be off the server clock.
	DateSkew time.Duration
	// MaxBodyBytes caps JSON request bodies (413 above it).
	MaxBodyBytes int64
	// FlushTimeout is how long an execute request is held for more output.
	FlushTimeout time.Duration
	// CreateWait is how long POST /session waits for RUNNING by default.
	CreateWait time.Duration
	// CullInterval is how often idle, over-age and overdue sessions are
	// looked for.
	CullInterval time.Duration
	// VFolderRoot holds one directory per virtual folder; empty:
	// DataDir/vfolders. Agents bind-mount from the same path, so with
	// agents on several hosts it must be a shared file system (NFS)
	// mounted at this path everywhere.
	VFolderRoot string
	// Version is the manager's own version string.
	Version string
}

// Defaults fills zero fields with the documented defaults.
func (c *Config) Defaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:8081"
	}
	if c.AgentTimeout == 0 {
		c.AgentTimeout = 15 * time.Second
	}
	if c.DateSkew == 0 {
		c.DateSkew = 15 * time.Minute
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 2 * time.Second
	}
	if c.CreateWait == 0 {
		c.CreateWait = 90 * time.Second
	}
	if c.CullInterval == 0 {
		c.CullInterval = 5 * time.Second
	}
	if c.Version == "" {
		c.Version = "0.1.0"
	}
}
