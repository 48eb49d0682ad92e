// Package sign implements Backend.AI's HMAC-SHA256 request signing, used by
// the manager to verify requests and by the Go SDK to sign them. The rules are
// in API.md: a string to sign made of the method, raw path with query, raw
// date header, host, content type, API version and a body hash; a key derived
// from the secret key, the date (YYYYMMDD) and the host.
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"baigo.dev/bai/common/errdefs"
)

// Method is the only signing method we accept.
const Method = "HMAC-SHA256"

// NewestVersion is the newest API version this server speaks.
const NewestVersion = "v6.20220315"

// emptyHash is the hex SHA-256 of an empty body.
const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Version is a parsed API version such as v4.20181215.
type Version struct {
	Major int
	Date  int // YYYYMMDD, 0 when absent
}

// ParseVersion parses "v4.20190615" (the date part is optional: "v4").
func ParseVersion(s string) (Version, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "v") {
		return Version{}, fmt.Errorf("api version %q must look like v6.20220315: %w", s, errdefs.ErrInvalidArgument)
	}
	t = t[1:]
	major, date, _ := strings.Cut(t, ".")
	m, err := strconv.Atoi(major)
	if err != nil || m < 1 {
		return Version{}, fmt.Errorf("api version %q must look like v6.20220315: %w", s, errdefs.ErrInvalidArgument)
	}
	v := Version{Major: m}
	if date != "" {
		d, err := strconv.Atoi(date)
		if err != nil || len(date) != 8 {
			return Version{}, fmt.Errorf("api version %q must look like v6.20220315: %w", s, errdefs.ErrInvalidArgument)
		}
		v.Date = d
	}
	return v, nil
}

// HashesBody reports whether requests of this version sign the real body
// hash; from v4.20181215 on the empty-body hash is signed instead.
func (v Version) HashesBody() bool {
	if v.Major != 4 {
		return v.Major < 4
	}
	return v.Date < 20181215
}

// Request holds the parts of a request that are signed.
type Request struct {
	Method      string
	PathQuery   string // raw path with its query string, as sent
	Date        string // raw date header value
	Host        string // Host header as received
	ContentType string // Content-Type header; "application/octet-stream" when absent
	Version     string // X-BackendAI-Version
	BodyHash    string // hex SHA-256 of the body; empty means the empty-body hash
}

// StringToSign builds the newline-joined string to sign.
func (r Request) StringToSign() string {
	h := r.BodyHash
	if h == "" {
		h = emptyHash
	}
	return strings.Join([]string{
		strings.ToUpper(r.Method),
		r.PathQuery,
		r.Date,
		"host:" + r.Host,
		"content-type:" + strings.ToLower(r.ContentType),
		"x-backendai-version:" + r.Version,
		h,
	}, "\n")
}

// BodyHash returns the hex SHA-256 of body.
func BodyHash(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Signature computes the hex signature of r with secretKey at the given date.
// The key is derived from the date's calendar day in the date's own zone,
// as Backend.AI's clients do (date.strftime("%Y%m%d") on the date they send).
func Signature(secretKey string, r Request, date time.Time) string {
	k1 := mac([]byte(secretKey), date.Format("20060102"))
	k2 := mac(k1, r.Host)
	return hex.EncodeToString(mac(k2, r.StringToSign()))
}

// Equal compares two hex signatures in constant time.
func Equal(a, b string) bool {
	return hmac.Equal([]byte(strings.ToLower(a)), []byte(strings.ToLower(b)))
}

// Authorization renders the Authorization header value.
func Authorization(accessKey, signature string) string {
	return fmt.Sprintf("BackendAI signMethod=%s, credential=%s:%s", Method, accessKey, signature)
}

// ParseAuthorization parses "BackendAI signMethod=HMAC-SHA256,
// credential=AK:SIG" into the access key and signature.
func ParseAuthorization(h string) (accessKey, signature string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("authorization header %s: %w", why, errdefs.ErrUnauthenticated)
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || scheme != "BackendAI" {
		return bad("must start with \"BackendAI \"")
	}
	var method, cred string
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "signMethod":
			method = strings.TrimSpace(v)
		case "credential":
			cred = strings.TrimSpace(v)
		}
	}
	if method != Method {
		return bad("must use signMethod=" + Method)
	}
	ak, sig, ok := strings.Cut(cred, ":")
	if !ok || ak == "" || sig == "" {
		return bad("must carry credential=ACCESS_KEY:SIGNATURE")
	}
	return ak, sig, nil
}

// ParseDate parses the date header: ISO-8601 (no zone means UTC, fractions
// allowed) or an RFC 1123 HTTP date. The result keeps the header's zone,
// which the signing key depends on.
func ParseDate(s string) (time.Time, error) {
	t := strings.TrimSpace(s)
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		time.RFC1123,
		time.RFC1123Z,
	} {
		if d, err := time.Parse(layout, t); err == nil {
			return d, nil
		}
	}
	return time.Time{}, fmt.Errorf("date header %q is not ISO-8601: %w", s, errdefs.ErrUnauthenticated)
}
