package phlotest

import (
	"net/http"
	"net/url"

	"github.com/phlogo/phlo/callback"
)

// Sign returns the headers Plivo signs a request with, for a request to uri
// with method and, for a form-encoded POST, params: X-Plivo-Signature-V3
// and a fresh X-Plivo-Signature-V3-Nonce. Add them to a request to test a
// handler behind callback.Verify end to end:
//
//	req := httptest.NewRequest("POST", uri, strings.NewReader(params.Encode()))
//	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
//	maps.Copy(req.Header, phlotest.Sign(authToken, "POST", uri, params))
func Sign(authToken, method, uri string, params url.Values) http.Header {
	nonce := randomString(20, "0123456789")
	return http.Header{
		http.CanonicalHeaderKey(callback.HeaderSignatureV3): {callback.SignatureV3(authToken, uri, method, nonce, params)},
		http.CanonicalHeaderKey(callback.HeaderNonceV3):     {nonce},
	}
}
