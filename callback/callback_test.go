package callback_test

import (
	"bytes"
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
		assert.Equal(t, v.want, callback.SignatureV3(token, v.uri, v.method, nonce, v.params), v.name)
		assert.True(t, callback.ValidateV3(token, v.uri, v.method, nonce, v.want, v.params), v.name)
		// Several signatures in one header: one match is enough.
		assert.True(t, callback.ValidateV3(token, v.uri, v.method, nonce, "bm9wZQ==,"+v.want+", c29tZQ==", v.params), v.name)
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
	ok := func(tok, uri, method, n string, params url.Values) bool {
		return callback.ValidateV3(tok, uri, method, n, v.want, params)
	}
	require.True(t, ok(token, v.uri, v.method, nonce, v.params))
	assert.False(t, ok("wrong-token", v.uri, v.method, nonce, v.params), "token")
	assert.False(t, ok(token, v.uri, v.method, "12346", v.params), "nonce")
	assert.False(t, ok(token, "https://example.com/cb2", v.method, nonce, v.params), "path")
	assert.False(t, ok(token, "http://example.com/cb", v.method, nonce, v.params), "scheme")
	assert.False(t, ok(token, "https://evil.example/cb", v.method, nonce, v.params), "host")
	assert.False(t, ok(token, v.uri, "GET", nonce, v.params), "method")
	tampered := url.Values{"To": {"+1416"}, "From": {"+1999"}, "CallUUID": {"abc"}}
	assert.False(t, ok(token, v.uri, v.method, nonce, tampered), "body")
	assert.False(t, callback.ValidateV3(token, v.uri, v.method, nonce, "", v.params), "no signature")
	assert.False(t, callback.ValidateV3("", v.uri, v.method, nonce, v.want, v.params), "no token")
	assert.False(t, callback.ValidateV3(token, "not a url", v.method, nonce, v.want, v.params), "no URL")
	assert.Empty(t, callback.SignatureV3(token, "/relative", "GET", nonce, nil))
}

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
	r.Header.Set(callback.HeaderNonceV3, nonce)
	r.Header.Set(callback.HeaderSignatureV3, callback.SignatureV3(token, uri, method, nonce, params))
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

func TestVerifyPassesTheBodyOn(t *testing.T) {
	t.Parallel()
	params := url.Values{"CallUUID": {"abc"}, "Event": {"member_hold"}, "To": {"+14155550100"}}
	w := serve(callback.Verify(token, echo), signed(t, "POST", "https://example.com/plivo/events?phlo=1", params))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, params.Encode(), w.Body.String(), "the next handler reads the whole form")

	w = serve(callback.Verify(token, echo), signed(t, "GET", "https://example.com/plivo/events?a=1&a=2", nil))
	assert.Equal(t, http.StatusOK, w.Code)
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	params := url.Values{"To": {"+14155550100"}}
	cases := map[string]func(*http.Request){
		"no signature":  func(r *http.Request) { r.Header.Del(callback.HeaderSignatureV3) },
		"wrong nonce":   func(r *http.Request) { r.Header.Set(callback.HeaderNonceV3, "1") },
		"bad signature": func(r *http.Request) { r.Header.Set(callback.HeaderSignatureV3, "AAAA") },
		"tampered body": func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("To=%2B14155550101")) },
		"other path":    func(r *http.Request) { r.URL.Path, r.RequestURI = "/other", "/other" },
		"forged host":   func(r *http.Request) { r.Header.Set("X-Forwarded-Host", "evil.example") },
		"forged scheme": func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "http") },
		"not form":      func(r *http.Request) { r.Header.Set("Content-Type", "application/json") },
		"wrong V2 alone": func(r *http.Request) {
			r.Header.Del(callback.HeaderSignatureV3)
			r.Header.Set(callback.HeaderSignatureV2, "AAAA")
		},
	}
	for name, tamper := range cases {
		reached := false
		next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })
		r := signed(t, "POST", "https://example.com/plivo/events", params)
		tamper(r)
		w := serve(callback.Verify(token, next), r)
		assert.Equal(t, http.StatusForbidden, w.Code, name)
		assert.False(t, reached, name)
		assert.NotContains(t, w.Body.String(), token, name)
	}
}

func TestVerifyV2(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "https://example.com/cb?x=1", strings.NewReader("a=b"))
	r.Header.Set(callback.HeaderNonceV2, nonce)
	r.Header.Set(callback.HeaderSignatureV2, callback.SignatureV2(token, "https://example.com/cb", nonce))
	assert.Equal(t, http.StatusOK, serve(callback.Verify(token, echo), r).Code)
}

// TestVerifyBehindAProxy: the proxy in front changes the scheme, host and
// port; X-Forwarded-* or WithPublicURL give back the URL Plivo called.
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
	assert.Equal(t, http.StatusForbidden, serve(callback.Verify(token, echo), arrive()).Code, "without help the URL is wrong")

	r := arrive()
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "callbacks.example.com")
	assert.Equal(t, http.StatusOK, serve(callback.Verify(token, echo), r).Code, "X-Forwarded-*")

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

func TestVerifyOverTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(callback.Verify(token, echo))
	defer srv.Close()
	params := url.Values{"Event": {"hold"}}
	req, err := http.NewRequest("POST", srv.URL+"/cb?x=1", strings.NewReader(params.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(callback.HeaderNonceV3, nonce)
	req.Header.Set(callback.HeaderSignatureV3, callback.SignatureV3(token, srv.URL+"/cb?x=1", "POST", nonce, params))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestVerifyCapsTheBody(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("a"), callback.MaxBodyBytes+1)
	r := httptest.NewRequest("POST", "https://example.com/cb", bytes.NewReader(big))
	r.Header.Set(callback.HeaderNonceV3, nonce)
	r.Header.Set(callback.HeaderSignatureV3, "x")
	reached := false
	w := serve(callback.Verify(token, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })), r)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.False(t, reached)

	params := url.Values{"big": {strings.Repeat("b", callback.MaxBodyBytes-10)}}
	w = serve(callback.Verify(token, echo), signed(t, "POST", "https://example.com/cb", params))
	assert.Equal(t, http.StatusOK, w.Code, "a body just under the cap is read whole")
}

func TestVerifyWithSeveralTokens(t *testing.T) {
	t.Parallel()
	r := signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	assert.Equal(t, http.StatusForbidden, serve(callback.Verify("new-token", echo), r).Code)
	r = signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	assert.Equal(t, http.StatusOK, serve(callback.Verify("new-token", echo, callback.WithAuthTokens(token)), r).Code)
}

func TestVerifyMisconfigured(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.Handler{
		"public URL":  callback.Verify(token, echo, callback.WithPublicURL("callbacks.example.com")),
		"empty token": callback.Verify("", echo),
		"nil next":    callback.Verify(token, nil),
		"empty extra": callback.Verify(token, echo, callback.WithAuthTokens("")),
	} {
		w := serve(h, signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}}))
		assert.Equal(t, http.StatusInternalServerError, w.Code, name)
		assert.NotContains(t, w.Body.String(), token, name)
	}
}
