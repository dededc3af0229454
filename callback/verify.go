package callback

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxBodyBytes is the largest request body a [Verifier] reads; a larger one
// is refused with [ErrBodyTooLarge] without reaching the next handler.
const MaxBodyBytes = 1 << 20

// releaseTimeout bounds the release of a nonce after the handler failed;
// the request's own context may have ended by then.
const releaseTimeout = 5 * time.Second

// Verifier checks the signatures of the requests Plivo sends, and passes
// on, once, those that match. Build one with [NewVerifier] and wrap each
// handler with [Verifier.Handler]; one Verifier may serve many handlers and
// goroutines, and they share its nonce store. The zero Verifier refuses
// every request.
type Verifier struct {
	config
}

// NewVerifier returns a Verifier of requests signed with authToken (or one
// of [WithAuthTokens]), or an error matching [ErrInvalidConfig] when the
// configuration cannot work: no non-empty token, neither [WithPublicURL]
// nor [WithAllowedHosts] (or both), [WithForwardedHeaders] with a public
// URL, or an option given a bad value. A nil Option is ignored.
func NewVerifier(authToken string, opts ...Option) (*Verifier, error) {
	var c config
	if authToken != "" {
		c.tokens = append(c.tokens, authToken)
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	switch {
	case len(c.tokens) == 0:
		return nil, invalid("no auth token: give a non-empty one")
	case c.publicURL != nil && len(c.allowedHosts) > 0:
		return nil, invalid("WithPublicURL and WithAllowedHosts both given: the signed URL must come from one")
	case c.publicURL == nil && len(c.allowedHosts) == 0:
		return nil, invalid("the URL Plivo calls is unknown: give WithPublicURL or WithAllowedHosts")
	case c.publicURL != nil && c.forwarded:
		return nil, invalid("WithForwardedHeaders has no use with WithPublicURL, which fixes the scheme and host")
	}
	if c.store == nil {
		c.store, c.window = NewMemoryNonceStore(DefaultMaxNonces), DefaultReplayWindow
	}
	return &Verifier{c}, nil
}

// Verify is the one-line form of [NewVerifier] and [Verifier.Handler]:
//
//	http.Handle("/plivo/events", callback.Verify(authToken, events, callback.WithAllowedHosts("callbacks.example.com")))
//
// It panics when the configuration cannot work, or next is nil, as
// [regexp.MustCompile] does, so that a mistake shows when the program
// starts, never as a refusal at request time.
func Verify(authToken string, next http.Handler, opts ...Option) http.Handler {
	v, err := NewVerifier(authToken, opts...)
	if err != nil {
		panic("callback.Verify: " + strings.TrimPrefix(err.Error(), "callback: "))
	}
	return v.Handler(next)
}

// Handler returns middleware that passes on to next a request whose
// signature matches, once, and refuses any other.
//
// It first reads the headers: a request without a signature is refused
// before its body is read. It then reads the body, up to [MaxBodyBytes],
// and passes on only what the signature covers: an
// application/x-www-form-urlencoded body that parses cleanly (its
// parameters are signed), or an application/json one (not covered by the
// signature: replay protection makes a captured signature carry one body
// at most, once). Any other body, a form or query that does not parse
// cleanly, and a body on a GET are refused.
//
// It then claims the nonce in its store: a nonce seen within the window is
// refused with [ErrReplayed]. If next answers 5xx or panics, the nonce is
// released (and the panic goes on), so that Plivo's retry is accepted.
//
// next gets r.Form and r.PostForm set to the parameters that were verified
// (the query's and the form's), r.MultipartForm set to an empty form, so
// that nothing in net/http parses the body again in its own way, and
// r.Body holding the bytes that were read. Its ResponseWriter is wrapped;
// [http.ResponseController] reaches the original through Unwrap.
//
// Handler panics if next is nil.
func (v *Verifier) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("callback: Verifier.Handler needs a handler to pass requests on to")
	}
	if v == nil {
		v = &Verifier{}
	}
	return &handler{v: v, next: next}
}

type handler struct {
	v    *Verifier
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := h.v.check(r)
	if err == nil {
		err = h.v.claim(r.Context(), req.nonces)
	}
	if err != nil {
		h.v.refuse(w, r, err)
		return
	}
	req.apply(r)
	sw := &statusWriter{ResponseWriter: w}
	done := false
	defer func() {
		// Deferred, so that it also runs while a panic goes on up.
		if !done || sw.status >= http.StatusInternalServerError {
			h.v.release(r.Context(), req.nonces)
		}
	}()
	h.next.ServeHTTP(sw, r)
	done = true
}

func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if v.onError != nil {
		v.onError(w, r, err)
		return
	}
	DefaultErrorHandler(w, r, err)
}

// check verifies r, headers first, and returns what it may pass on.
func (v *Verifier) check(r *http.Request) (*verified, error) {
	sig, err := v.signature(r)
	if err != nil {
		return nil, err
	}
	uri, err := v.signedURL(r)
	if err != nil {
		return nil, err
	}
	_, query, _ := strings.Cut(uri, "?") // the query as it was signed
	req, err := readRequest(r, query)
	if err != nil {
		return nil, err
	}
	if !v.matches(sig, r.Method, uri, req.postForm) {
		return nil, mismatch(sig, uri)
	}
	req.nonces = []string{sig.key()}
	if sig.v2 != nil && v.matches(*sig.v2, r.Method, uri, nil) {
		// Plivo signs with both; claiming the V2 nonce too keeps the
		// request from being replayed with its V3 headers stripped.
		req.nonces = append(req.nonces, sig.v2.key())
	}
	return req, nil
}

// matches reports whether sig matches the request for one of the tokens.
// The string to sign is built once, as [ValidateV3] and [ValidateV2] build
// it, and every token is tried, so that the time taken does not say which
// matched. The token, nonce and value are never empty here: NewVerifier
// and readSignature refuse them.
func (v *Verifier) matches(sig signature, method, uri string, params url.Values) bool {
	var s string
	var ok bool
	compare := anyEqual // a V3 header may list several signatures
	if sig.version == 2 {
		s, ok = stringToSignV2(uri, sig.nonce)
		compare = equal // a V2 header holds one
	} else {
		s, ok = stringToSignV3(method, uri, sig.nonce, params)
	}
	if !ok {
		return false
	}
	match := false
	for _, t := range v.tokens {
		if compare(sign(t, s), sig.value) {
			match = true
		}
	}
	return match
}

func mismatch(sig signature, uri string) error {
	if sig.version == 2 {
		if _, b, ok := base(uri); ok {
			uri = b
		}
	}
	return fmt.Errorf("%w: V%d signature computed over %s", ErrSignatureMismatch, sig.version, uri)
}

// claim claims every nonce, or none.
func (v *Verifier) claim(ctx context.Context, nonces []string) error {
	for i, n := range nonces {
		ok, err := v.store.Claim(ctx, n, v.window)
		if err == nil && ok {
			continue
		}
		v.release(ctx, nonces[:i])
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNonceStore, err)
		}
		return fmt.Errorf("%w within the last %v: %q", ErrReplayed, v.window, n)
	}
	return nil
}

// release forgets nonces, even after the request's context ended. An error
// is dropped: the answer is already given, and the nonce then stays
// claimed until its window ends.
func (v *Verifier) release(ctx context.Context, nonces []string) {
	if len(nonces) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	for _, n := range nonces {
		_ = v.store.Release(ctx, n)
	}
}

// signedURL is the URL Plivo signed: the public URL, or the request's
// scheme and allowed host; then the path and query as they arrived.
func (v *Verifier) signedURL(r *http.Request) (string, error) {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI() // absolute-form, or a request built in a test
	}
	if strings.Contains(target, "#") || r.URL.Fragment != "" {
		// No client sends a fragment. A URL parser leaves "#..." out of
		// what is signed, while net/http's server keeps it in the path
		// and the query the handler reads.
		return "", fmt.Errorf("%w: a fragment mark (#) in the request target", ErrMalformedRequest)
	}
	if v.publicURL != nil {
		return v.publicURL.Scheme + "://" + v.publicURL.Host + v.publicURL.EscapedPath() + target, nil
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if v.forwarded {
		if p := lastValue(r.Header.Values("X-Forwarded-Proto")); p != "" {
			scheme = strings.ToLower(p)
		}
		if h := lastValue(r.Header.Values("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	for _, allowed := range v.allowedHosts {
		if sameHost(scheme, allowed, host) {
			return scheme + "://" + allowed + target, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrHostNotAllowed, host)
}

// lastValue is the last of a header's comma-separated values: the one the
// proxy nearest the service appended.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	last := lines[len(lines)-1]
	return strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
}

// sameHost compares two hosts without regard to case or to the scheme's
// default port.
func sameHost(scheme, a, b string) bool {
	return strings.EqualFold(withoutDefaultPort(scheme, a), withoutDefaultPort(scheme, b))
}

func withoutDefaultPort(scheme, host string) string {
	switch {
	case scheme == "http":
		return strings.TrimSuffix(host, ":80")
	case scheme == "https":
		return strings.TrimSuffix(host, ":443")
	}
	return host
}

// statusWriter records the status next answers, to release the nonce of a
// request it failed.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps http.Flusher working for a handler that asserts it.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets [http.ResponseController] reach the original writer.
func (w *statusWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
