package benchmarks

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/phlogo/phlo/callback"
	plivo "github.com/plivo/plivo-go/v7"
)

// TestGenuineCallbacksPass: requests signed by Plivo's Go SDK, as Plivo
// sends them (a form POST, a GET with a query, a JSON POST), pass
// callback.Verify over a real connection on loopback, the handler reads
// what was sent, and a second delivery of each is refused as a replay.
func TestGenuineCallbacksPass(t *testing.T) {
	const token = "genuine-callback-token"
	type seen struct{ form, body string }
	got := make(chan seen, 1)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = callback.Verify(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Form.Encode(), string(body)}
	}), callback.WithAllowedHosts(srv.Listener.Addr().String()))
	srv.Start()
	defer srv.Close()

	cases := []struct {
		name, method, path, contentType string
		params                          map[string]string // what plivo-go signs
		body                            string
		wantForm                        string
	}{
		{"form", "POST", "/plivo/events?phlo=p1", "application/x-www-form-urlencoded",
			map[string]string{"Event": "member_hold", "To": "+14155550100", "CallUUID": "c-1"},
			"CallUUID=c-1&Event=member_hold&To=%2B14155550100", "CallUUID=c-1&Event=member_hold&To=%2B14155550100&phlo=p1"},
		{"query", "GET", "/plivo/answer?CallUUID=c-2&From=%2B14155550111", "", nil, "", "CallUUID=c-2&From=%2B14155550111"},
		{"JSON", "POST", "/plivo/node?x=1", "application/json", nil, `{"event":"member_hold","to":"+14155550100"}`, "x=1"},
	}
	for i, c := range cases {
		nonce := "9130275" + string(rune('0'+i))
		uri := srv.URL + c.path
		send := func() int {
			req, err := http.NewRequest(c.method, uri, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			req.Header.Set(callback.HeaderNonceV3, nonce)
			req.Header.Set(callback.HeaderSignatureV3, plivo.ComputeSignatureV3(token, uri, c.method, nonce, c.params))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if status := send(); status != http.StatusOK {
			t.Errorf("%s: status %d", c.name, status)
			continue
		}
		s := <-got
		if s.form != c.wantForm || s.body != c.body {
			t.Errorf("%s: the handler read form %q, body %q", c.name, s.form, s.body)
		}
		if status := send(); status != http.StatusConflict {
			t.Errorf("%s: a second delivery: status %d", c.name, status)
		}
	}
	// The form's parameters are what plivo-go signed: one changed is refused.
	forged := url.Values{"Event": {"member_hold"}, "To": {"+19995550000"}, "CallUUID": {"c-1"}}
	req, _ := http.NewRequest("POST", srv.URL+"/plivo/events", strings.NewReader(forged.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(callback.HeaderNonceV3, "1")
	req.Header.Set(callback.HeaderSignatureV3, plivo.ComputeSignatureV3(token, srv.URL+"/plivo/events", "POST", "1",
		map[string]string{"Event": "member_hold", "To": "+14155550100", "CallUUID": "c-1"}))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a changed form: status %d", resp.StatusCode)
	}
}
