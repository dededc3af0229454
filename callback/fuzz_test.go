package callback_test

import (
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/phlogo/phlo/callback"
)

// FuzzVerify: whatever a request holds (method, path, query, headers,
// body, and a signature that is the fuzzer's, or one computed over the
// request as an attacker would compute it), a Verifier never panics, and
// either refuses it with one of its statuses or passes it on once, and
// then:
//
//   - it was signed: its signature is valid for a URL of an allowed host
//     and for the parameters the next handler reads;
//   - whatever the next handler reads was covered: every way net/http
//     offers to read the form gives those parameters and the query's,
//     without an error and without parsing anything else;
//   - a second delivery of it is refused as a replay.
func FuzzVerify(f *testing.F) {
	f.Add("POST", "/plivo/events?x=1", "Event=hold&To=%2B1", form, "sig,other", "123", "https", "example.com", uint8(1))
	f.Add("POST", "/plivo/events?x=1", "Event=hold&junk=%zz", form, "", "123", "", "", uint8(1))
	f.Add("POST", "/plivo/events", "Event=hold", form+"; =", "", "123", "", "", uint8(2))
	f.Add("POST", "/cb", `{"a":1}`, "application/json", "", "1", "http, https", "evil.example, example.com:8443", uint8(3))
	f.Add("GET", "/cb?a=1&a=2", "", "", "", "9", "", "", uint8(1))
	f.Add("GET", "/cb?a=1", "a=2", form, "", "9", "", "", uint8(1))
	f.Add("POST", "/cb", "%zz=&&", form+"; charset=utf-8", "=", "\x00", "ftp", "[::1", uint8(0))
	f.Fuzz(func(t *testing.T, method, target, body, contentType, sigs, nonce, proto, host string, mode uint8) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || len(method) == 0 || strings.ContainsAny(method, " \r\n\t/") {
			return // not a request line net/http would parse
		}
		r, err := http.NewRequest(method, "http://example.com"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RequestURI = target
		r.Header.Set("Content-Type", contentType)
		r.Header.Set(callback.HeaderNonceV3, nonce)
		r.Header.Set("X-Forwarded-Proto", proto)
		r.Header.Set("X-Forwarded-Host", host)
		r.Header.Set(callback.HeaderSignatureV3, attackerSignature(mode, sigs, method, target, body, nonce, host))

		var seen *http.Request
		var read map[string]string
		h := callback.Verify(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			read, seen = readEveryWay(r), r
		}), callback.WithAllowedHosts("example.com", "example.com:8443"), callback.WithForwardedHeaders())
		again := r.Clone(r.Context())
		again.Body = io.NopCloser(strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if strings.Contains(w.Body.String(), token) {
			t.Fatal("the token is in the reply")
		}
		if seen == nil {
			if !slices.Contains([]int{400, 403, 409, 413, 415}, w.Code) {
				t.Fatalf("refused with status %d", w.Code)
			}
			return
		}
		if !signedFor(method, target, nonce, r.Header.Get(callback.HeaderSignatureV3), seen.PostForm) {
			t.Fatalf("passed on a request whose signature does not cover what the handler reads: %v", read)
		}
		checkCovered(t, seen, read, body, contentType)
		w = httptest.NewRecorder()
		h.ServeHTTP(w, again)
		if w.Code != http.StatusConflict {
			t.Fatalf("a second delivery: status %d", w.Code)
		}
	})
}

// attackerSignature is the fuzzer's own signature (mode 0), or one computed
// as an attacker with the token would, to probe how the Verifier reads the
// request: over the body as net/http's lenient parser reads it (1), over no
// parameters (2), or for the fuzzer's host (3).
func attackerSignature(mode uint8, sigs, method, target, body, nonce, host string) string {
	lenient, _ := url.ParseQuery(body)
	switch mode % 4 {
	case 1:
		return callback.SignatureV3(token, method, "http://example.com"+target, nonce, lenient)
	case 2:
		return callback.SignatureV3(token, method, "http://example.com"+target, nonce, nil)
	case 3:
		return callback.SignatureV3(token, method, "https://"+host+target, nonce, lenient)
	}
	return sigs
}

// signedFor reports whether sigs is a valid signature of the request for
// some scheme and allowed host, over params.
func signedFor(method, target, nonce, sigs string, params url.Values) bool {
	for _, origin := range []string{"http://example.com", "https://example.com", "http://example.com:8443", "https://example.com:8443"} {
		if callback.ValidateV3(token, method, origin+target, nonce, sigs, params) {
			return true
		}
	}
	return false
}

// checkCovered: every way of reading the form gave the verified
// parameters, and the body is one whose parameters those are.
func checkCovered(t *testing.T, seen *http.Request, read map[string]string, body, contentType string) {
	t.Helper()
	query, err := url.ParseQuery(seen.URL.RawQuery)
	if err != nil {
		t.Fatalf("passed on a query that does not parse cleanly: %v", err)
	}
	merged := url.Values{}
	for _, vs := range []url.Values{seen.PostForm, query} {
		for k, v := range vs {
			merged[k] = append(merged[k], v...)
		}
	}
	if read["ParseForm"] != "" || read["ParseMultipartForm"] != "" || read["MultipartForm"] != " files 0" ||
		read["Form"] != merged.Encode() || read["FormValue"] != merged.Get("Event") || read["PostFormValue"] != seen.PostForm.Get("Event") {
		t.Fatalf("the handler read more, or otherwise, than was verified: %v", read)
	}
	if read["Body"] != body {
		t.Fatalf("the handler read another body: %q", read["Body"])
	}
	if body == "" {
		if len(seen.PostForm) != 0 {
			t.Fatalf("parameters without a body: %v", seen.PostForm)
		}
		return
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil || strings.EqualFold(seen.Method, http.MethodGet):
		t.Fatalf("passed on a body under %q with %s", contentType, seen.Method)
	case mediaType == "application/json":
		if len(seen.PostForm) != 0 {
			t.Fatalf("parameters from a JSON body: %v", seen.PostForm)
		}
	case mediaType == form:
		params, err := url.ParseQuery(body)
		if err != nil || !maps.EqualFunc(params, seen.PostForm, slices.Equal) {
			t.Fatalf("the form %q is not what the handler reads: %v", body, seen.PostForm)
		}
	default:
		t.Fatalf("passed on a body of type %q", mediaType)
	}
}
