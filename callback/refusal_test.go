package callback_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo/callback"
)

// TestRefusalReasons: every refusal calls the WithErrorHandler handler
// with an error that matches its reason and says why, and never holds the
// token or the request's signature; without the option each refusal
// answers its status with a fixed body.
func TestRefusalReasons(t *testing.T) {
	t.Parallel()
	at8443 := callback.WithAllowedHosts("example.com:8443")
	cases := []struct {
		name    string
		opts    []callback.Option
		request func() *http.Request
		why     error
		status  int
		says    string
	}{
		{"no signature", nil, func() *http.Request {
			return httptest.NewRequest("GET", "https://example.com:8443/cb", nil)
		}, callback.ErrNoSignature, 403, "callback: no signature: no X-Plivo-Signature-V3"},
		{"V2 alone", nil, func() *http.Request {
			r := httptest.NewRequest("GET", "https://example.com:8443/cb", nil)
			r.Header.Set(callback.HeaderSignatureV2, "x")
			r.Header.Set(callback.HeaderNonceV2, "1")
			return r
		}, callback.ErrNoSignature, 403, "WithSignatureV2"},
		{"wrong token", nil, func() *http.Request {
			r := signed(t, "GET", "https://example.com:8443/cb?x=1&y=%2F", nil)
			r.Header.Set(callback.HeaderSignatureV3, callback.SignatureV3("other", "GET", "https://example.com:8443/cb?x=1&y=%2F", r.Header.Get(callback.HeaderNonceV3), nil))
			return r
		}, callback.ErrSignatureMismatch, 403, "callback: signature does not match: V3 signature computed over https://example.com:8443/cb?x=1&y=%2F"},
		{"a proxy changed the host", []callback.Option{callback.WithAllowedHosts("example.com:8443", "public.example")}, func() *http.Request {
			r := signed(t, "POST", "https://public.example/cb", url.Values{"a": {"b"}})
			r.Host = "example.com:8443"
			return r
		}, callback.ErrSignatureMismatch, 403, "computed over https://example.com:8443/cb"},
		{"V2 mismatch", []callback.Option{at8443, callback.WithSignatureV2()}, func() *http.Request {
			r := httptest.NewRequest("GET", "https://example.com:8443/cb?x=1", nil)
			r.Header.Set(callback.HeaderSignatureV2, callback.SignatureV2(token, "https://public.example/cb", "1"))
			r.Header.Set(callback.HeaderNonceV2, "1")
			return r
		}, callback.ErrSignatureMismatch, 403, "V2 signature computed over https://example.com:8443/cb"},
		{"host not allowed", nil, func() *http.Request {
			return signed(t, "GET", "https://evil.example/cb", nil)
		}, callback.ErrHostNotAllowed, 403, `callback: host not allowed: "evil.example"`},
		{"nonce too long", nil, func() *http.Request {
			r := signed(t, "GET", "https://example.com:8443/cb", nil)
			r.Header.Set(callback.HeaderNonceV3, strings.Repeat("1", 129))
			return r
		}, callback.ErrNonceTooLong, 403, "129 bytes"},
		{"body too large", nil, func() *http.Request {
			r := signed(t, "POST", "https://example.com:8443/cb", url.Values{"a": {strings.Repeat("b", callback.MaxBodyBytes)}})
			return r
		}, callback.ErrBodyTooLarge, 413, "over 1048576"},
		{"unsupported body", nil, func() *http.Request {
			r := signed(t, "POST", "https://example.com:8443/cb", url.Values{"a": {"b"}})
			r.Header.Set("Content-Type", "text/xml")
			return r
		}, callback.ErrUnsupportedBody, 415, `"text/xml"`},
		{"malformed form", nil, func() *http.Request {
			r := signed(t, "POST", "https://example.com:8443/cb", url.Values{"a": {"b"}})
			r.Body = io.NopCloser(strings.NewReader("a=%zz"))
			return r
		}, callback.ErrMalformedRequest, 400, "the form does not parse cleanly"},
		{"body on a GET", nil, func() *http.Request {
			r := signed(t, "GET", "https://example.com:8443/cb", nil)
			r.Body = io.NopCloser(strings.NewReader("a=b"))
			return r
		}, callback.ErrMalformedRequest, 400, "a GET with a body"},
		{"store down", []callback.Option{at8443, callback.WithNonceStore(&failingStore{}, 1)}, func() *http.Request {
			return signed(t, "GET", "https://example.com:8443/cb", nil)
		}, callback.ErrNonceStore, 503, "store down"},
	}
	for _, c := range cases {
		opts := c.opts
		if opts == nil {
			opts = []callback.Option{at8443}
		}
		var got error
		r := c.request()
		sig := r.Header.Get(callback.HeaderSignatureV3)
		w := serve(callback.Verify(token, echo, append(opts, recordErr(&got))...), r)
		require.Error(t, got, c.name)
		assert.ErrorIs(t, got, c.why, c.name)
		assert.Contains(t, got.Error(), c.says, c.name)
		assert.NotContains(t, got.Error(), token, c.name)
		if sig != "" {
			assert.NotContains(t, got.Error(), sig, c.name)
		}
		assert.Equal(t, c.status, w.Code, c.name)
		assert.Equal(t, c.status, callback.StatusCode(got), c.name)

		// Without the option: the status, with a fixed body.
		w = serve(callback.Verify(token, echo, opts...), c.request())
		assert.Equal(t, c.status, w.Code, c.name)
		assert.Equal(t, http.StatusText(c.status)+"\n", w.Body.String(), c.name)
	}
}

// TestErrorHandlerAnswers: the handler set with WithErrorHandler answers
// the refused request as it likes; the default status of an error that
// matches no reason is 403.
func TestErrorHandlerAnswers(t *testing.T) {
	t.Parallel()
	h := callback.Verify(token, echo, atExample, callback.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusTeapot)
	}))
	assert.Equal(t, http.StatusTeapot, serve(h, httptest.NewRequest("GET", "https://example.com/cb", nil)).Code)
	assert.Equal(t, http.StatusForbidden, callback.StatusCode(errors.New("other")))
}
