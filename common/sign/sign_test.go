package sign_test

import (
	"testing"
	"time"

	"baigo.dev/bai/common/sign"
)

// The expected signatures were computed with Python's hmac module from the
// rules in API.md, independently of this package.
func TestSignatureVectors(t *testing.T) {
	const secret = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
	const date = "2026-11-27T06:48:23.126693+00:00"
	d, err := sign.ParseDate(date)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  sign.Request
		want string
	}{
		{"v6 empty body hash", sign.Request{Method: "POST", PathQuery: "/session/abc?x=1", Date: date, Host: "127.0.0.1:8081",
			ContentType: "application/json", Version: "v6.20220315"}, "3988c475c3d676cb6e10a1601498f1d430db00b90a0e09cba870eff10c4678b9"},
		{"v3 real body hash", sign.Request{Method: "POST", PathQuery: "/kernel/create", Date: date, Host: "127.0.0.1:8081",
			ContentType: "application/json", Version: "v3.20170615", BodyHash: sign.BodyHash([]byte(`{"lang":"python"}`))},
			"63134a03d6eec7ec7a31b01f0c49758f923212c0c627343eff972a961dda3635"},
	}
	for _, c := range cases {
		if got := sign.Signature(secret, c.req, d); got != c.want {
			t.Errorf("%s: got %s want %s", c.name, got, c.want)
		}
	}
	// With an offset, the key uses the calendar day the client wrote
	// (2026-11-28 in +09:00), not the UTC day (2026-11-27 20:00 UTC).
	const tokyo = "2026-11-28T05:00:00+09:00"
	dt, err := sign.ParseDate(tokyo)
	if err != nil {
		t.Fatal(err)
	}
	req := sign.Request{Method: "GET", PathQuery: "/session", Date: tokyo, Host: "127.0.0.1:8081", ContentType: "text/plain", Version: "v6.20220315"}
	if got, want := sign.Signature(secret, req, dt), "ef9b11dc91f392799b74c53a8250080f018e347f0c8c4d2453075de4e8da025d"; got != want {
		t.Errorf("offset date: got %s want %s", got, want)
	}
}

func TestHashesBody(t *testing.T) {
	for v, want := range map[string]bool{"v3.20170615": true, "v4.20181126": true, "v4.20181215": false, "v4.20190615": false, "v5.20191215": false, "v6.20220315": false} {
		pv, err := sign.ParseVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		if pv.HashesBody() != want {
			t.Errorf("%s: HashesBody = %v", v, !want)
		}
	}
	for _, bad := range []string{"", "6", "v", "vx.1", "v6.2022"} {
		if _, err := sign.ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func TestParseAuthorizationAndDate(t *testing.T) {
	ak, sig, err := sign.ParseAuthorization("BackendAI signMethod=HMAC-SHA256, credential=AKIAXXX:abcd")
	if err != nil || ak != "AKIAXXX" || sig != "abcd" {
		t.Fatalf("got %q %q %v", ak, sig, err)
	}
	for _, bad := range []string{"", "Bearer x", "BackendAI signMethod=MD5, credential=a:b", "BackendAI signMethod=HMAC-SHA256, credential=ab"} {
		if _, _, err := sign.ParseAuthorization(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	want := time.Date(2026, 11, 27, 6, 48, 23, 0, time.UTC)
	for _, s := range []string{"2026-11-27T06:48:23Z", "2026-11-27T06:48:23", "2026-11-27T06:48:23+00:00", "2026-11-27T15:48:23+09:00", "Fri, 27 Nov 2026 06:48:23 GMT"} {
		d, err := sign.ParseDate(s)
		if err != nil || !d.Equal(want) {
			t.Errorf("ParseDate(%q) = %v, %v", s, d, err)
		}
	}
}
