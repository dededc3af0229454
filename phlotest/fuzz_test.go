package phlotest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// FuzzServeHTTP: whatever a client sends, to the runner's paths or the
// control API, with or without credentials, the fake answers with a
// status and never panics.
func FuzzServeHTTP(f *testing.F) {
	for _, seed := range []struct {
		method, path, body string
		auth               bool
	}{
		{"POST", "/v1/phlo/p/multi_party_call/n/members/+1", `{"action":"hold"}`, true},
		{"POST", "/v1/phlo/p/multi_party_call/n", `{"action":"call","trigger_source":"+1","to":"+2","role":"customer"}`, true},
		{"POST", "/v1/account/MAFUZZFUZZFUZZFUZZ00/phlo/p", `{"a":1}`, true},
		{"PUT", "/__phlo/phlo/p/multi_party_call/n/members/%2B3", `{"role":"agent"}`, true},
		{"POST", "/__phlo/faults", `{"status":500,"times":1,"delay_ms":0}`, true},
		{"GET", "/__phlo/state", ``, true},
		{"GET", "/__phlo/requests?action=hold", ``, false},
		{"DELETE", "/__phlo/phlo/p", ``, true},
	} {
		f.Add(seed.method, seed.path, seed.body, seed.auth)
	}
	srv := phlotest.NewServer(phlotest.WithCredentials("MAFUZZFUZZFUZZFUZZ00", "fuzz-token"))
	f.Cleanup(srv.Close)
	srv.AddMember("p", "n", "+1", phlo.RoleAgent)
	f.Fuzz(func(t *testing.T, method, path, body string, auth bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(method, " \t\r\n") || method == "" {
			return // not a request net/http would hand a handler
		}
		req, err := http.NewRequest(method, "http://fake"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.RequestURI = path
		if auth {
			req.SetBasicAuth("MAFUZZFUZZFUZZFUZZ00", "fuzz-token")
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req) // a panic fails the fuzz test
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%s %q answered %d", method, path, rec.Code)
		}
		if srv.PendingFaults() > 0 {
			srv.Reset() // a queued fault may drop or stall the next request, which a recorder cannot show
		}
	})
}
