package callback

import (
	"errors"
	"net/http"
)

// The reasons a [Verifier] refuses a request. The error given to the
// handler set with [WithErrorHandler] matches one of them with [errors.Is];
// its text says more (the URL the signature was computed over, the host
// that is not allowed, ...), and never holds an auth token or a valid
// signature. Each comment gives the status [DefaultErrorHandler] answers.
var (
	// ErrNoSignature: the request has no X-Plivo-Signature-V3 (or, with
	// [WithSignatureV2], X-Plivo-Signature-V2) with its nonce; decided
	// before the body is read. 403.
	ErrNoSignature = errors.New("callback: no signature")
	// ErrSignatureMismatch: no signature matches the request for any token;
	// the text gives the URL the signature was computed over. 403.
	ErrSignatureMismatch = errors.New("callback: signature does not match")
	// ErrHostNotAllowed: the host the request names is not one of
	// [WithAllowedHosts]. 403.
	ErrHostNotAllowed = errors.New("callback: host not allowed")
	// ErrNonceTooLong: the nonce is longer than [MaxNonceBytes]. 403.
	ErrNonceTooLong = errors.New("callback: nonce too long")
	// ErrBodyTooLarge: the body is over [MaxBodyBytes]. 413.
	ErrBodyTooLarge = errors.New("callback: request body too large")
	// ErrUnsupportedBody: a body the signature cannot cover: a media type
	// other than a form or JSON, no Content-Type, or a malformed one. 415.
	ErrUnsupportedBody = errors.New("callback: unsupported request body")
	// ErrMalformedRequest: a form (body or query) that does not parse
	// cleanly, a fragment mark (#) in the request target, a body on a GET,
	// or a body that could not be read. 400.
	ErrMalformedRequest = errors.New("callback: malformed request")
	// ErrReplayed: the nonce was already used within the replay window. 409.
	ErrReplayed = errors.New("callback: nonce already used")
	// ErrNonceStore: the [NonceStore] failed, so the nonce could not be
	// claimed; the request is not passed on. 503.
	ErrNonceStore = errors.New("callback: nonce store failed")
)

// ErrInvalidConfig is matched by every error [NewVerifier] returns.
var ErrInvalidConfig = errors.New("callback: invalid configuration")

var statuses = []struct {
	err    error
	status int
}{
	{ErrNoSignature, http.StatusForbidden},
	{ErrSignatureMismatch, http.StatusForbidden},
	{ErrHostNotAllowed, http.StatusForbidden},
	{ErrNonceTooLong, http.StatusForbidden},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge},
	{ErrUnsupportedBody, http.StatusUnsupportedMediaType},
	{ErrMalformedRequest, http.StatusBadRequest},
	{ErrReplayed, http.StatusConflict},
	{ErrNonceStore, http.StatusServiceUnavailable},
}

// StatusCode returns the status [DefaultErrorHandler] answers for err: the
// one its reason's comment gives, 403 for an error that matches none.
func StatusCode(err error) int {
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return http.StatusForbidden
}

// DefaultErrorHandler answers a refused request as a [Verifier] does
// without [WithErrorHandler]: the status [StatusCode] gives, with its
// status text as a fixed body, whatever err says. A handler of one's own
// can log err and then call it.
func DefaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	status := StatusCode(err)
	http.Error(w, http.StatusText(status), status)
}
