package sign_test

import (
	"errors"
	"strings"
	"testing"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/sign"
)

// FuzzParseAuthorization: any header value either parses into a non-empty
// access key and signature that render back to an equivalent header, or
// is refused as unauthenticated; it never panics.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("BackendAI signMethod=HMAC-SHA256, credential=AKIAEXAMPLE:0123abcd")
	f.Add("BackendAI signMethod=HMAC-SHA256,credential=AK:SIG:with:colons")
	f.Add("BackendAI credential=AK:SIG, signMethod=HMAC-SHA256")
	f.Add("Bearer token")
	f.Add("BackendAI signMethod=HMAC-SHA1, credential=AK:SIG")
	f.Add("BackendAI ,,,=,credential=:")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		ak, sig, err := sign.ParseAuthorization(h)
		if err != nil {
			if !errors.Is(err, errdefs.ErrUnauthenticated) {
				t.Fatalf("refusal of %q is not ErrUnauthenticated: %v", h, err)
			}
			return
		}
		if ak == "" || sig == "" || strings.Contains(ak, ":") {
			t.Fatalf("%q parsed into access key %q, signature %q", h, ak, sig)
		}
		ak2, sig2, err := sign.ParseAuthorization(sign.Authorization(ak, sig))
		if err != nil || ak2 != ak || sig2 != sig {
			t.Fatalf("round trip of %q/%q: %q %q %v", ak, sig, ak2, sig2, err)
		}
	})
}

// FuzzParseDate: a date header parses or is refused as unauthenticated.
func FuzzParseDate(f *testing.F) {
	f.Add("2026-11-27T09:11:14.123456+00:00")
	f.Add("2026-11-27T09:11:14Z")
	f.Add("2026-11-27T09:11:14")
	f.Add("Fri, 27 Nov 2026 09:11:14 GMT")
	f.Add("2026-11-27 09:11:14.5+09:00")
	f.Add("yesterday")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := sign.ParseDate(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrUnauthenticated) {
				t.Fatalf("refusal of %q is not ErrUnauthenticated: %v", s, err)
			}
			return
		}
		if d.IsZero() && !strings.HasPrefix(strings.TrimSpace(s), "0001") {
			t.Fatalf("%q parsed into the zero time", s)
		}
	})
}

// FuzzParseVersion: any X-BackendAI-Version value parses or is refused; a
// parsed version answers HashesBody without panicking.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v4.20190615", "v3.20170615", "v9.20990101", "6", "v4.", "v.20190615", "", "v4.2019061x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := sign.ParseVersion(s)
		if err != nil {
			return
		}
		_ = v.HashesBody()
	})
}
