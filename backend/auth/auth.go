// Package auth verifies Backend.AI HMAC-signed requests and puts the
// authenticated keypair into the request context. Keypairs are cached
// briefly so the execute hot path does not hit the database for every call.
package auth

import (
	"context"
	"crypto/rand"
	"fmt"
	"mime"
	"strings"
	"sync"
	"time"

	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/user"
)

// KeyPair is the authenticated caller.
type KeyPair struct {
	AccessKey  string
	SecretKey  string
	IsAdmin    bool
	Superadmin bool
	UserID     string
	Domain     string
	Policy     string
	RateLimit  int // requests per RateWindow; 0 = unlimited
	active     bool
	fetched    time.Time
}

type ctxKey struct{}

// With returns ctx carrying kp.
func With(ctx context.Context, kp *KeyPair) context.Context {
	return context.WithValue(ctx, ctxKey{}, kp)
}

// From returns the authenticated keypair, if any.
func From(ctx context.Context) (*KeyPair, bool) {
	kp, ok := ctx.Value(ctxKey{}).(*KeyPair)
	return kp, ok
}

// Keys looks keypairs up with a short cache.
type Keys struct {
	st  *store.Store
	ttl time.Duration
	mu  sync.Mutex
	c   map[string]*KeyPair

	usedMu sync.Mutex
	used   map[string]time.Time // when Touch last wrote each key's last_used
}

// touchEvery bounds how often Touch writes one keypair's last_used: the
// admin list needs "recently", not every request, and a busy key must not
// cost a database write per request.
const touchEvery = time.Minute

// NewKeys returns a keypair cache over st.
func NewKeys(st *store.Store, ttl time.Duration) *Keys {
	return &Keys{st: st, ttl: ttl, c: map[string]*KeyPair{}, used: map[string]time.Time{}}
}

// Touch records that accessKey authenticated a request: its last_used is
// written at most once a minute per manager, off the request's path. A
// failed write is dropped: last_used is an operator's hint, not an audit
// log.
func (k *Keys) Touch(accessKey string) {
	now := time.Now()
	k.usedMu.Lock()
	if now.Sub(k.used[accessKey]) < touchEvery {
		k.usedMu.Unlock()
		return
	}
	k.used[accessKey] = now
	if len(k.used) > 100_000 { // forget old entries rather than grow forever
		for ak, t := range k.used {
			if now.Sub(t) >= touchEvery {
				delete(k.used, ak)
			}
		}
	}
	k.usedMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = k.st.KeyPair.UpdateOneID(accessKey).SetLastUsed(now).Exec(ctx)
	}()
}

// Get returns an active keypair or an ErrUnauthenticated error.
func (k *Keys) Get(ctx context.Context, accessKey string) (*KeyPair, error) {
	k.mu.Lock()
	kp, ok := k.c[accessKey]
	k.mu.Unlock()
	if !ok || time.Since(kp.fetched) > k.ttl {
		row, err := k.st.KeyPair.Query().Where(keypair.IDEQ(accessKey)).WithUser().Only(ctx)
		if ent.IsNotFound(err) {
			return nil, fmt.Errorf("unknown access key: %w", errdefs.ErrUnauthenticated)
		}
		if err != nil {
			return nil, err
		}
		kp = &KeyPair{AccessKey: row.ID, SecretKey: row.SecretKey, IsAdmin: row.IsAdmin, Policy: row.ResourcePolicy, RateLimit: row.RateLimit,
			active: row.IsActive, fetched: time.Now()}
		if u := row.Edges.User; u != nil {
			kp.UserID, kp.Domain = u.ID.String(), u.DomainName
			kp.Superadmin = u.Role == user.RoleSuperadmin && row.IsAdmin
			kp.active = kp.active && u.IsActive
		}
		k.mu.Lock()
		k.c[accessKey] = kp
		k.mu.Unlock()
	}
	if !kp.active {
		return nil, fmt.Errorf("access key is inactive: %w", errdefs.ErrUnauthenticated)
	}
	return kp, nil
}

// Forget drops a cached keypair (after it changed).
func (k *Keys) Forget(accessKey string) {
	k.mu.Lock()
	delete(k.c, accessKey)
	k.mu.Unlock()
}

// MediaType returns the content type the way it is signed: the media type
// without parameters, lowercased; a missing header counts as
// application/octet-stream (WebSocket handshakes send none).
func MediaType(h string) string {
	if strings.TrimSpace(h) == "" {
		return "application/octet-stream"
	}
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(h))
	}
	return mt
}

const akChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
const skChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randString(chars string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the OS random source never fails on Linux
	}
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// NewAccessKey returns a fresh 20-character "AKIA…" access key.
func NewAccessKey() string { return "AKIA" + randString(akChars, 16) }

// NewSecretKey returns a fresh 40-character secret key.
func NewSecretKey() string { return randString(skChars, 40) }
