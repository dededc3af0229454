package phlotest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/phlogo/phlo/callback"
)

// Sign returns the headers Plivo signs a request with, for a request with
// method to uri and, for a form-encoded POST, params: X-Plivo-Signature-V3
// and a fresh X-Plivo-Signature-V3-Nonce. Add them to a request to test a
// handler behind [callback.Verify] end to end:
//
//	req := httptest.NewRequest("POST", "/plivo/events", strings.NewReader(params.Encode()))
//	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
//	maps.Copy(req.Header, phlotest.Sign(authToken, "POST", "/plivo/events", params))
//
// A uri that is a path ("/plivo/events") is resolved as
// [net/http/httptest.NewRequest] resolves it, against http://example.com,
// so that the headers match the request it builds from the same arguments
// (and a Verifier given callback.WithAllowedHosts("example.com")); an empty
// method is GET, as there. An absolute http or https uri is signed as it
// is. Sign panics, with the reason, when it cannot sign: an empty auth
// token, or a uri that is neither.
func Sign(authToken, method, uri string, params url.Values) http.Header {
	if authToken == "" {
		panic("phlotest.Sign: the auth token is empty")
	}
	if method == "" {
		method = http.MethodGet
	}
	if strings.HasPrefix(uri, "/") {
		uri = "http://example.com" + uri
	}
	nonce := randomString(20, "0123456789")
	sig := callback.SignatureV3(authToken, method, uri, nonce, params)
	if sig == "" {
		panic(fmt.Sprintf("phlotest.Sign: cannot sign %q: give a path starting with / or an absolute http or https URL", uri))
	}
	return http.Header{
		http.CanonicalHeaderKey(callback.HeaderSignatureV3): {sig},
		http.CanonicalHeaderKey(callback.HeaderNonceV3):     {nonce},
	}
}
