package callback

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// MaxBodyBytes is the largest request body Verify reads; a larger one is
// answered 413 without reaching the next handler.
const MaxBodyBytes = 1 << 20

// Option configures Verify.
type Option func(*verifier) error

type verifier struct {
	tokens    []string
	publicURL *url.URL // scheme, host and an optional path prefix; nil: from the request
	next      http.Handler
	err       error // a bad option: every request is answered 500
}

// WithPublicURL sets the scheme://host[:port] Plivo calls, when a proxy or a
// load balancer in front of the service changes the scheme, the host or the
// port the request arrives with. A path in base is put before the request's
// path, for a proxy that strips a prefix. Without it, Verify rebuilds the
// URL from the request: https when it came over TLS, its Host, and
// X-Forwarded-Proto and X-Forwarded-Host when present. A forged header can
// only make the check fail, since the signature covers the URL.
func WithPublicURL(base string) Option {
	return func(v *verifier) error {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("WithPublicURL must be an absolute http or https URL with no query")
		}
		u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), strings.TrimRight(u.RawPath, "/")
		v.publicURL = u
		return nil
	}
}

// WithAuthTokens accepts a request signed with any of tokens besides the
// one given to Verify, as during a rotation of the auth token, or for a
// handler that serves several sub-accounts.
func WithAuthTokens(tokens ...string) Option {
	return func(v *verifier) error {
		for _, t := range tokens {
			if t == "" {
				return errors.New("WithAuthTokens must not be given an empty token")
			}
		}
		v.tokens = append(v.tokens, tokens...)
		return nil
	}
}

// Verify is middleware: it answers 403 to a request whose V3 signature, or
// when it has none its V2 signature, does not match, and otherwise passes it
// on to next with its body intact. It reads the body once, up to
// MaxBodyBytes (a larger body is answered 413), and takes the parameters
// of a form-encoded body (application/x-www-form-urlencoded) for the V3
// signature; r.Body, r.ContentLength and r.ParseForm work for next as if
// nothing had read the body.
//
// An invalid option makes every request answered 500, never passed on.
func Verify(authToken string, next http.Handler, opts ...Option) http.Handler {
	v := &verifier{next: next}
	if authToken != "" {
		v.tokens = append(v.tokens, authToken)
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(v); err != nil && v.err == nil {
			v.err = err
		}
	}
	switch {
	case v.err != nil:
	case len(v.tokens) == 0:
		v.err = errors.New("Verify needs an auth token")
	case next == nil:
		v.err = errors.New("Verify needs a handler to pass requests on to")
	}
	return v
}

func (v *verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v.err != nil {
		http.Error(w, "callback: "+v.err.Error(), http.StatusInternalServerError)
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		r.Body.Close()
		switch {
		case len(body) > MaxBodyBytes:
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, "could not read the request body", http.StatusBadRequest)
			return
		}
	}
	if !v.valid(r, body) {
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	v.next.ServeHTTP(w, r)
}

// valid checks the request's V3 signature, or its V2 one when it has no V3,
// against every token.
func (v *verifier) valid(r *http.Request, body []byte) bool {
	uri := v.url(r)
	if sigs := r.Header.Get(HeaderSignatureV3); sigs != "" {
		nonce := r.Header.Get(HeaderNonceV3)
		params := formParams(r, body)
		match := false
		for _, t := range v.tokens {
			if ValidateV3(t, uri, r.Method, nonce, sigs, params) {
				match = true // every token is tried, so that time does not tell which matched
			}
		}
		return match
	}
	if sig := r.Header.Get(HeaderSignatureV2); sig != "" {
		nonce := r.Header.Get(HeaderNonceV2)
		match := false
		for _, t := range v.tokens {
			if ValidateV2(t, uri, nonce, sig) {
				match = true
			}
		}
		return match
	}
	return false
}

// url rebuilds the URL Plivo called: the public URL when given, else the
// request's scheme and host as the last proxy saw them; then the path and
// query as they arrived.
func (v *verifier) url(r *http.Request) string {
	target := r.RequestURI
	if target == "" || !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	if v.publicURL != nil {
		return v.publicURL.Scheme + "://" + v.publicURL.Host + v.publicURL.EscapedPath() + target
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p != "" {
		scheme = strings.ToLower(p)
	}
	host := r.Host
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" {
		host = h
	}
	return scheme + "://" + host + target
}

// firstValue is the first of a header's comma-separated values: the one the
// proxy nearest the client set.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// formParams returns a form-encoded body's parameters, or nil.
func formParams(r *http.Request, body []byte) url.Values {
	if r.Method == http.MethodGet || len(body) == 0 {
		return nil
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return nil
	}
	return params
}
