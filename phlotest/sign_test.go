package phlotest_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/phlogo/phlo/callback"
	"github.com/phlogo/phlo/phlotest"
)

// TestSignRelativeURI: Sign given a path signs what httptest.NewRequest
// builds from the same method and path, so the request passes a Verifier
// of example.com.
func TestSignRelativeURI(t *testing.T) {
	t.Parallel()
	params := url.Values{"Event": {"member_hold"}, "To": {"+14155550100"}}
	cases := []struct{ method, uri string }{
		{"POST", "/callbacks"},
		{"POST", "/callbacks?x=1&y=%2F"},
		{"GET", "/callbacks?Event=member_hold"},
		{"", "/callbacks?a=1"},
		{"POST", "https://example.com/callbacks"},
	}
	for _, c := range cases {
		var body *strings.Reader
		signedParams := url.Values(nil)
		if c.method == "POST" {
			body, signedParams = strings.NewReader(params.Encode()), params
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(c.method, c.uri, body)
		if c.method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		h := phlotest.Sign("token", c.method, c.uri, signedParams)
		assert.NotEmpty(t, h.Get(callback.HeaderSignatureV3), c.uri)
		maps.Copy(req.Header, h)
		w := httptest.NewRecorder()
		callback.Verify("token", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), callback.WithAllowedHosts("example.com")).ServeHTTP(w, req)
		assert.Equal(t, http.StatusOK, w.Code, "%s %s", c.method, c.uri)
	}
	// The path is resolved against http://example.com, nothing else.
	h := phlotest.Sign("token", "POST", "/callbacks", params)
	assert.True(t, callback.ValidateV3("token", "POST", "http://example.com/callbacks", h.Get(callback.HeaderNonceV3), h.Get(callback.HeaderSignatureV3), params))
}

// TestSignPanicsWithTheReason: what Sign cannot sign, it refuses loudly
// rather than returning headers no Verifier accepts.
func TestSignPanicsWithTheReason(t *testing.T) {
	t.Parallel()
	for uri, reason := range map[string]string{
		"callbacks":          `phlotest.Sign: cannot sign "callbacks": give a path starting with / or an absolute http or https URL`,
		"":                   `phlotest.Sign: cannot sign "": give a path starting with / or an absolute http or https URL`,
		"ftp://example.com/": `phlotest.Sign: cannot sign "ftp://example.com/": give a path starting with / or an absolute http or https URL`,
		"https:///cb":        `phlotest.Sign: cannot sign "https:///cb": give a path starting with / or an absolute http or https URL`,
	} {
		assert.PanicsWithValue(t, reason, func() { phlotest.Sign("token", "POST", uri, nil) }, uri)
	}
	assert.PanicsWithValue(t, "phlotest.Sign: the auth token is empty", func() { phlotest.Sign("", "POST", "/cb", nil) })
}
