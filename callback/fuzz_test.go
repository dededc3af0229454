package callback_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/phlogo/phlo/callback"
)

// FuzzVerify: whatever a request holds (method, path, query, headers,
// body), Verify answers 403 or 413, or passes it on only when its signature
// is the one Plivo would make; it never panics.
func FuzzVerify(f *testing.F) {
	f.Add("POST", "/plivo/events?x=1", "Event=hold&To=%2B1", "application/x-www-form-urlencoded", "sig,other", "123", "https", "example.com")
	f.Add("GET", "/cb?a=1&a=2", "", "", "", "", "", "")
	f.Add("POST", "/cb", "%zz=&&", "application/x-www-form-urlencoded; charset=utf-8", "=", "\x00", "ftp", "[::1")
	f.Fuzz(func(t *testing.T, method, target, body, contentType, sigs, nonce, proto, host string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || len(method) == 0 || strings.ContainsAny(method, " \r\n\t/") {
			return // not a request line net/http would parse
		}
		r, err := http.NewRequest(method, "http://example.com"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RequestURI = target
		r.Header.Set("Content-Type", contentType)
		r.Header.Set(callback.HeaderSignatureV3, sigs)
		r.Header.Set(callback.HeaderNonceV3, nonce)
		r.Header.Set("X-Forwarded-Proto", proto)
		r.Header.Set("X-Forwarded-Host", host)
		passed := false
		h := callback.Verify(token, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed = true }))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case passed:
			// Only a request that carries the right signature for its URL.
			scheme := "http"
			if proto != "" {
				scheme = strings.ToLower(strings.TrimSpace(strings.Split(proto, ",")[0]))
			}
			params, _ := url.ParseQuery(body)
			if !callback.ValidateV3(token, scheme+"://"+host+target, method, nonce, sigs, params) &&
				!callback.ValidateV3(token, scheme+"://"+host+target, method, nonce, sigs, nil) {
				t.Fatalf("passed on a request with no valid signature")
			}
		case w.Code != http.StatusForbidden && w.Code != http.StatusRequestEntityTooLarge:
			t.Fatalf("status %d", w.Code)
		}
		if strings.Contains(w.Body.String(), token) {
			t.Fatal("the token is in the reply")
		}
	})
}
