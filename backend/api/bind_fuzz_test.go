package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// FuzzBind: whatever a client sends as a JSON body, binding it into the
// request types either succeeds or fails with a 400-class error that says
// what is wrong; it never panics. Bodies are capped as LimitBody caps them.
func FuzzBind(f *testing.F) {
	for _, s := range []string{
		`{"image":"python","name":"abcd","config":{"resources":{"cpu":1,"mem":"512m"}}}`,
		`{"image":5}`, `{"image": `, ``, `null`, `[]`, `"x"`,
		`{"mode":"query","code":"print(1)","runId":"r1","options":{"exec_timeout":3}}`,
		`{"config":{"instanceMemory":1.5,"instanceCores":"2","environ":{"A":"B"}}}`,
		`{"agentId":"a","addr":"http://x","capacity":{"cpu":"x"}}`,
		`{"enqueueOnly":"yes","maxWaitSeconds":-1}`,
	} {
		f.Add(s)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []any{&apitypes.CreateSession{}, &apitypes.Execute{}, &aproto.Heartbeat{}, &apitypes.GroupSettings{}, &apitypes.PolicySettings{}} {
			req := httptest.NewRequest(http.MethodPost, "/session", strings.NewReader(body))
			rec := httptest.NewRecorder()
			req.Body = http.MaxBytesReader(rec, req.Body, 1<<20)
			c := e.NewContext(req, rec)
			err := bind(c, v, true)
			if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrTooLarge) {
				t.Fatalf("bind(%q) into %T: %v is neither invalid-argument nor too-large", body, v, err)
			}
			if err != nil && err.Error() == "" {
				t.Fatalf("bind(%q): an empty error message", body)
			}
		}
	})
}
