package callback_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo/callback"
)

const (
	token = "test-auth-token-0123456789"
	nonce = "12345"
)

// vectors were computed apart from this package: the string to sign
// written out by hand from the rules in the package documentation, signed
// with Python's hmac and base64 modules.
var vectors = []struct {
	name, method, uri string
	params            url.Values
	signed, want      string // signed documents the string behind want
}{
	{"GET, no query", "GET", "https://example.com/plivo/events", nil,
		"https://example.com/plivo/events.12345", "5EVbpKsP+ThUrVTbLSnWKIKsmn3VrCX0p8FwqxZavpQ="},
	{"GET, query sorted", "GET", "https://example.com/cb?b=2&a=1", nil,
		"https://example.com/cb?a=1&b=2.12345", "IzhOm82rxB7RsVINJFOWvVjvNaWdtf/PNHVbWdJWS4s="},
	{"GET, query and parameters merged", "GET", "https://example.com/cb?b=2&a=1", url.Values{"c": {"3"}},
		"https://example.com/cb?a=1&b=2&c=3.12345", "TDtoleckHh3XvWs6uqyxrpuQ4egdEBKuPH9TrumtEp4="},
	{"GET, repeated key", "GET", "https://example.com/cb?a=2&a=1", nil,
		"https://example.com/cb?a=1&a=2.12345", "JTjQeTR4kjnERDu/IXEQFYgOMa51d2kpkuvRKsUdws0="},
	{"POST, parameters", "POST", "https://example.com/cb", url.Values{"To": {"+1415"}, "From": {"+1999"}, "CallUUID": {"abc"}},
		"https://example.com/cb?CallUUIDabcFrom+1999To+1415.12345", "qIxskzp2lQSFk/IGqL5eK6MuW1N5g1Z0Dc5MY+9NzwQ="},
	{"POST, query and parameters", "POST", "https://example.com/cb?x=1", url.Values{"a": {"b"}},
		"https://example.com/cb?x=1.ab.12345", "4SsWojw0a+kXKUWXvWJEf5CwhGJqbDQ1j78Li0AxhN0="},
	{"POST, query only", "POST", "https://example.com/cb?x=1", nil,
		"https://example.com/cb?x=1.12345", "TOAWZYeHM/11ny1cK/jjX5ECBSHQBZjmNa7q0iK01bE="},
	{"POST, repeated parameter", "POST", "https://example.com/cb", url.Values{"a": {"z", "y"}},
		"https://example.com/cb?ayaz.12345", "izJ6pou2CKA3NWE/xZ4E/WZkm+mZVHUB7eBE1jHNtso="},
	{"POST, unicode", "POST", "https://example.com/cb?q=%C3%A9", url.Values{"name": {"Zoë 日本"}},
		"https://example.com/cb?q=é.nameZoë 日本.12345", "By2ttDNSH/zpaY4Na7k6nK1LM33QEEhzKnv3TSHAlMw="},
	{"GET, port and escaped path", "GET", "https://example.com:8443/a%20b/c?x=%2F", nil,
		"https://example.com:8443/a%20b/c?x=/.12345", "koO2DFrm3Qu/CrwFe4uRy5ziFIRTzS5DAO9FqM+SoXM="},
	{"POST, nothing", "POST", "https://example.com/cb", url.Values{},
		"https://example.com/cb.12345", "1OeQsMAeL2zatBsvmBUwxfJ6d1i/zVsVTK3dutJc+FM="},
}

func TestVectorsV3(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		assert.Equal(t, v.want, callback.SignatureV3(token, v.method, v.uri, nonce, v.params), v.name)
		assert.True(t, callback.ValidateV3(token, v.method, v.uri, nonce, v.want, v.params), v.name)
		// Several signatures in one header: one match is enough.
		assert.True(t, callback.ValidateV3(token, v.method, v.uri, nonce, "bm9wZQ==,"+v.want+", c29tZQ==", v.params), v.name)
	}
}

func TestVectorV2(t *testing.T) {
	t.Parallel()
	const want = "DX2ByzIMYcT3I+VkpTH67FvccPAwtKVOet3WEkNcLCo="
	assert.Equal(t, want, callback.SignatureV2(token, "https://example.com:8443/cb?x=1", nonce))
	assert.True(t, callback.ValidateV2(token, "https://example.com:8443/cb?x=1", nonce, want))
	assert.False(t, callback.ValidateV2("other", "https://example.com:8443/cb", nonce, want))
	assert.False(t, callback.ValidateV2(token, "https://example.com:8443/cb", "54321", want))
	assert.False(t, callback.ValidateV2(token, "https://example.com/cb", nonce, want))
}

// TestTampering: a wrong token, nonce, URL, method or parameter fails.
func TestTampering(t *testing.T) {
	t.Parallel()
	v := vectors[4] // POST with parameters
	ok := func(tok, method, uri, n string, params url.Values) bool {
		return callback.ValidateV3(tok, method, uri, n, v.want, params)
	}
	require.True(t, ok(token, v.method, v.uri, nonce, v.params))
	assert.False(t, ok("wrong-token", v.method, v.uri, nonce, v.params), "token")
	assert.False(t, ok(token, v.method, v.uri, "12346", v.params), "nonce")
	assert.False(t, ok(token, v.method, "https://example.com/cb2", nonce, v.params), "path")
	assert.False(t, ok(token, v.method, "http://example.com/cb", nonce, v.params), "scheme")
	assert.False(t, ok(token, v.method, "https://evil.example/cb", nonce, v.params), "host")
	assert.False(t, ok(token, "GET", v.uri, nonce, v.params), "method")
	tampered := url.Values{"To": {"+1416"}, "From": {"+1999"}, "CallUUID": {"abc"}}
	assert.False(t, ok(token, v.method, v.uri, nonce, tampered), "body")
	assert.False(t, callback.ValidateV3(token, v.method, v.uri, nonce, "", v.params), "no signature")
	assert.False(t, callback.ValidateV3("", v.method, v.uri, nonce, v.want, v.params), "no token")
	assert.False(t, callback.ValidateV3(token, v.method, "not a url", nonce, v.want, v.params), "no URL")
	assert.Empty(t, callback.SignatureV3(token, "GET", "/relative", nonce, nil))
	// The order before method-then-URI still compiles; it never validates.
	assert.False(t, callback.ValidateV3(token, v.uri, v.method, nonce, v.want, v.params), "URI before method")
	assert.Empty(t, callback.SignatureV3(token, v.uri, v.method, nonce, v.params), "URI before method")
}

// nonces makes each signed request's nonce fresh, so that replay
// protection refuses only the requests a test replays on purpose.
var nonces atomic.Int64

// signed makes a request as Plivo sends it to uri, form-encoded for a POST.
func signed(t *testing.T, method, uri string, params url.Values) *http.Request {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(params.Encode())
	}
	r := httptest.NewRequest(method, uri, body)
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	n := strconv.FormatInt(1e6+nonces.Add(1), 10)
	r.Header.Set(callback.HeaderNonceV3, n)
	r.Header.Set(callback.HeaderSignatureV3, callback.SignatureV3(token, method, uri, n, params))
	return r
}

// echo is the next handler: it answers with the form it reads.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	io.WriteString(w, r.PostForm.Encode())
})

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// atExample is the configuration of most tests: Plivo calls example.com.
var atExample = callback.WithAllowedHosts("example.com")

func TestVerifyPassesTheBodyOn(t *testing.T) {
	t.Parallel()
	params := url.Values{"CallUUID": {"abc"}, "Event": {"member_hold"}, "To": {"+14155550100"}}
	h := callback.Verify(token, echo, atExample)
	w := serve(h, signed(t, "POST", "https://example.com/plivo/events?phlo=1", params))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, params.Encode(), w.Body.String(), "the next handler reads the whole form")

	w = serve(h, signed(t, "GET", "https://example.com/plivo/events?a=1&a=2", nil))
	assert.Equal(t, http.StatusOK, w.Code)
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	params := url.Values{"To": {"+14155550100"}}
	cases := map[string]struct {
		tamper func(*http.Request)
		want   error
	}{
		"no signature":  {func(r *http.Request) { r.Header.Del(callback.HeaderSignatureV3) }, callback.ErrNoSignature},
		"no nonce":      {func(r *http.Request) { r.Header.Del(callback.HeaderNonceV3) }, callback.ErrNoSignature},
		"wrong nonce":   {func(r *http.Request) { r.Header.Set(callback.HeaderNonceV3, "1") }, callback.ErrSignatureMismatch},
		"bad signature": {func(r *http.Request) { r.Header.Set(callback.HeaderSignatureV3, "AAAA") }, callback.ErrSignatureMismatch},
		"tampered body": {func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("To=%2B14155550101")) }, callback.ErrSignatureMismatch},
		"other path":    {func(r *http.Request) { r.URL.Path, r.RequestURI = "/other", "/other" }, callback.ErrSignatureMismatch},
		"plain HTTP":    {func(r *http.Request) { r.TLS = nil }, callback.ErrSignatureMismatch},
		"other host":    {func(r *http.Request) { r.Host = "evil.example" }, callback.ErrHostNotAllowed},
		"wrong V2 alone": {func(r *http.Request) {
			r.Header.Del(callback.HeaderSignatureV3)
			r.Header.Set(callback.HeaderSignatureV2, "AAAA")
		}, callback.ErrNoSignature},
	}
	for name, c := range cases {
		reached := false
		next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })
		var got error
		h := callback.Verify(token, next, atExample, callback.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			callback.DefaultErrorHandler(w, r, err)
		}))
		r := signed(t, "POST", "https://example.com/plivo/events", params)
		c.tamper(r)
		w := serve(h, r)
		assert.Equal(t, http.StatusForbidden, w.Code, name)
		assert.Equal(t, "Forbidden\n", w.Body.String(), name)
		assert.False(t, reached, name)
		assert.ErrorIs(t, got, c.want, name)
	}
}

func TestVerifyV2(t *testing.T) {
	t.Parallel()
	r := func() *http.Request {
		r := httptest.NewRequest("POST", "https://example.com/cb?x=1", strings.NewReader("a=b"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set(callback.HeaderNonceV2, nonce)
		r.Header.Set(callback.HeaderSignatureV2, callback.SignatureV2(token, "https://example.com/cb", nonce))
		return r
	}
	assert.Equal(t, http.StatusForbidden, serve(callback.Verify(token, echo, atExample), r()).Code, "V2 is off by default")
	h := callback.Verify(token, echo, atExample, callback.WithSignatureV2())
	assert.Equal(t, http.StatusOK, serve(h, r()).Code)
	assert.Equal(t, http.StatusConflict, serve(h, r()).Code, "its nonce is claimed too")
}

// TestVerifyBehindAProxy: the proxy in front changes the scheme, host and
// port; WithForwardedHeaders or WithPublicURL give back the URL Plivo
// called.
func TestVerifyBehindAProxy(t *testing.T) {
	t.Parallel()
	params := url.Values{"Event": {"hold"}}
	public := "https://callbacks.example.com/plivo/events"
	arrive := func() *http.Request {
		r := signed(t, "POST", public, params)
		// As the service sees it behind the load balancer: plain HTTP, its own host.
		internal := httptest.NewRequest("POST", "http://10.0.0.5:8080/plivo/events", r.Body)
		internal.Header = r.Header.Clone()
		return internal
	}
	allowed := callback.WithAllowedHosts("callbacks.example.com")
	assert.Equal(t, http.StatusForbidden, serve(callback.Verify(token, echo, allowed), arrive()).Code, "without help the host is not allowed")

	r := arrive()
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "callbacks.example.com")
	assert.Equal(t, http.StatusForbidden, serve(callback.Verify(token, echo, allowed), r).Code, "X-Forwarded-* are not read by default")
	r = arrive()
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "callbacks.example.com")
	forwarded := callback.Verify(token, echo, allowed, callback.WithForwardedHeaders())
	assert.Equal(t, http.StatusOK, serve(forwarded, r).Code, "X-Forwarded-*")
	r = arrive()
	r.Header.Set("X-Forwarded-Proto", "http, https")
	r.Header.Add("X-Forwarded-Host", "evil.example")
	r.Header.Add("X-Forwarded-Host", "other.example, callbacks.example.com")
	assert.Equal(t, http.StatusOK, serve(forwarded, r).Code, "the last value is the nearest proxy's")

	h := callback.Verify(token, echo, callback.WithPublicURL("https://callbacks.example.com"))
	assert.Equal(t, http.StatusOK, serve(h, arrive()).Code, "WithPublicURL")
	r = arrive()
	r.Header.Set("X-Forwarded-Host", "evil.example")
	assert.Equal(t, http.StatusOK, serve(h, r).Code, "WithPublicURL ignores forwarded headers")
	assert.Equal(t, http.StatusForbidden, serve(callback.Verify(token, echo, callback.WithPublicURL("https://other.example.com")), arrive()).Code)

	// A proxy that strips the prefix /hooks.
	r = signed(t, "POST", "https://callbacks.example.com/hooks/plivo/events", params)
	stripped := httptest.NewRequest("POST", "http://10.0.0.5:8080/plivo/events", r.Body)
	stripped.Header = r.Header.Clone()
	assert.Equal(t, http.StatusOK, serve(callback.Verify(token, echo, callback.WithPublicURL("https://callbacks.example.com/hooks/")), stripped).Code)
}

// TestAllowedHosts: hosts match without regard to case or to the scheme's
// default port, and the signature is computed over the host as configured.
func TestAllowedHosts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		allowed, signedURL, host string
		tls                      bool
		want                     int
	}{
		{"example.com", "https://example.com/cb", "EXAMPLE.com", true, http.StatusOK},
		{"example.com", "https://example.com/cb", "example.com:443", true, http.StatusOK},
		{"example.com", "http://example.com/cb", "example.com:80", false, http.StatusOK},
		{"example.com", "http://example.com/cb", "example.com:443", false, http.StatusForbidden},
		{"example.com:8443", "https://example.com:8443/cb", "example.com:8443", true, http.StatusOK},
		{"example.com:8443", "https://example.com:8443/cb", "example.com", true, http.StatusForbidden},
		{"Example.COM", "https://Example.COM/cb", "example.com", true, http.StatusOK},
		{"[::1]:8080", "http://[::1]:8080/cb", "[::1]:8080", false, http.StatusOK},
		{"example.com", "https://example.com/cb", "example.com.evil", true, http.StatusForbidden},
		{"example.com", "https://example.com/cb", "", true, http.StatusForbidden},
	}
	for _, c := range cases {
		r := signed(t, "GET", c.signedURL, nil)
		r.Host = c.host
		if !c.tls {
			r.TLS = nil
		}
		w := serve(callback.Verify(token, echo, callback.WithAllowedHosts("other.example", c.allowed)), r)
		assert.Equal(t, c.want, w.Code, "allowed %s, Host %q", c.allowed, c.host)
	}
}

// TestVerifyOverTLS: over TLS and HTTP/2, as a service behind no proxy
// receives Plivo's requests, the scheme is https and the form is read.
func TestVerifyOverTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = callback.Verify(token, echo, callback.WithAllowedHosts(srv.Listener.Addr().String()))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	params := url.Values{"Event": {"hold"}}
	req, err := http.NewRequest("POST", srv.URL+"/cb?x=1", strings.NewReader(params.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(callback.HeaderNonceV3, nonce)
	req.Header.Set(callback.HeaderSignatureV3, callback.SignatureV3(token, "POST", srv.URL+"/cb?x=1", nonce, params))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 2, resp.ProtoMajor, "over HTTP/2")
	assert.Equal(t, params.Encode(), string(body))
}

func TestVerifyCapsTheBody(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("a"), callback.MaxBodyBytes+1)
	for _, length := range []int64{int64(len(big)), -1} {
		r := httptest.NewRequest("POST", "https://example.com/cb", bytes.NewReader(big))
		r.ContentLength = length // -1: as a chunked body arrives, its length unknown
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set(callback.HeaderNonceV3, nonce)
		r.Header.Set(callback.HeaderSignatureV3, "x")
		reached := false
		w := serve(callback.Verify(token, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }), atExample), r)
		assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
		assert.False(t, reached)
	}

	params := url.Values{"big": {strings.Repeat("b", callback.MaxBodyBytes-10)}}
	w := serve(callback.Verify(token, echo, atExample), signed(t, "POST", "https://example.com/cb", params))
	assert.Equal(t, http.StatusOK, w.Code, "a body just under the cap is read whole")
}

func TestVerifyWithSeveralTokens(t *testing.T) {
	t.Parallel()
	r := signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	assert.Equal(t, http.StatusForbidden, serve(callback.Verify("new-token", echo, atExample), r).Code)
	r = signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	assert.Equal(t, http.StatusOK, serve(callback.Verify("new-token", echo, atExample, callback.WithAuthTokens(token)), r).Code)
	r = signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	assert.Equal(t, http.StatusOK, serve(callback.Verify("", echo, atExample, callback.WithAuthTokens("new-token", token)), r).Code,
		"the tokens may all come from WithAuthTokens")
}
