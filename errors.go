package phlo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Test for them with errors.Is; an *APIError matches the
// sentinel of its status class, and an *ArgumentError matches
// ErrInvalidArgument or ErrMissingCredentials.
//
// Every error from an action or [RestClient.Do] says whether the runner may
// have acted, in exactly one of four ways: it matches [ErrInvalidArgument]
// (nothing was sent), [ErrNotSent] (the request never reached the runner
// whole), or [ErrOutcomeUnknown] (it may have, and no reply says what
// happened); otherwise it is an [*APIError] whose status says that the
// runner did not act.
var (
	// ErrInvalidArgument is matched by every error for bad input that the SDK
	// caught before sending anything.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrNotSent is matched when the request provably never reached the
	// runner whole, so the runner cannot have acted: the connection, the
	// proxy tunnel or the TLS handshake failed, net/http did not write the
	// whole request, the context ended before it was written (waiting for a
	// connection included), or an HTTP/2 server refused the stream. Such a
	// request is sent again, whatever it is, within the retry policy; the
	// error comes back once the retries run out, or for a TLS failure that
	// would come again. Sending it again yourself is safe.
	ErrNotSent = errors.New("request not sent")
	// ErrOutcomeUnknown is matched when the whole request may have reached
	// the runner and no reply says what happened: the connection failed, or
	// the context ended, after the request was written and before a status
	// came; any 5xx reply (an [*APIError] that matches [ErrServer] too); a
	// 2xx reply whose body cannot be read or is not a valid reply. It is
	// matched as well when any earlier attempt of the call ended so, whatever
	// the last one did. The runner may have acted: check before repeating an
	// action that is not idempotent, such as a call or a transfer.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrMissingCredentials is matched when no auth ID or auth token was
	// given, either as an argument or in PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN.
	ErrMissingCredentials = errors.New("missing credentials")

	// ErrBadRequest is matched by an *APIError with status 400.
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthorized is matched by an *APIError with status 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden is matched by an *APIError with status 403.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound is matched by an *APIError with status 404.
	ErrNotFound = errors.New("not found")
	// ErrRateLimited is matched by an *APIError with status 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer is matched by an *APIError with a 5xx status.
	ErrServer = errors.New("server error")

	// ErrInvalidResponse is matched when a successful reply cannot be
	// decoded: it is not a JSON object, its "api_id" or "error" is not a
	// string, it is empty where a body was expected, or it is larger than
	// the SDK reads. One rule holds for every action and for Do.
	ErrInvalidResponse = errors.New("invalid response")
)

// The server's words in an error are cut to these lengths, in bytes.
const (
	maxErrorText = 512
	maxAPIIDText = 128
)

// APIError is the error for every reply the runner did not answer with
// success: any status outside 2xx (a 3xx included, since redirects are never
// followed), and a 2xx whose "error" field is not empty.
//
// Use errors.As to get at its fields, and errors.Is with ErrBadRequest,
// ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited or ErrServer to
// test its class. A 5xx reply, or any reply after an earlier attempt of the
// same call that may have reached the runner, also matches
// [ErrOutcomeUnknown]: the runner may have acted.
//
// Whatever the server sent, no field shows a credential, nor a piece of one
// that a cut to length would leave: the auth token, the basic auth value
// and the user name and password of a proxy named in HTTPS_PROXY or
// HTTP_PROXY read "[redacted]", the auth ID "{auth_id}".
type APIError struct {
	// StatusCode is the HTTP status of the reply.
	StatusCode int
	// APIID is the request's api_id, when the body carried one, on one line
	// and cut to 128 bytes.
	APIID string
	// Message is the body's "error" text; when the body is not the API's
	// JSON error object it is a short sample of the body, or the status
	// text when the body is empty; when the body was cut short, it says so.
	// It is one line of at most 512 bytes with no control characters.
	Message string
	// Body is the raw reply body, read up to the SDK's 1 MiB limit, with
	// every credential it echoed replaced, one that the limit cuts
	// included.
	Body []byte
	// RetryAfter is the wait the server asked for in the reply's
	// Retry-After header, or zero. A wait longer than the retry policy's
	// MaxDelay, or than the context allows, is not waited for: the error
	// comes back at once so that the caller can decide. A value too large
	// to represent reads as MaxRetryAfter.
	RetryAfter time.Duration
	// Method and Path say which request failed. A path segment equal to
	// the auth ID reads "{auth_id}"; with [WithMaskedAddresses], a member's
	// address reads "********0100". Path never holds the host: the error's
	// text does, for a runner other than Plivo's.
	Method, Path string
	// Attempts is how many times the request was sent.
	Attempts int

	// mayHaveActed says that an attempt of the call may have reached the
	// runner: the call as a whole matches ErrOutcomeUnknown.
	mayHaveActed bool
	// origin is the runner's scheme://host[/prefix] when it is not
	// Plivo's, so that the text says where the request went.
	origin string
}

// Error describes the failure in one line. It names the runner's host when
// the client was pointed at another runner than [DefaultBaseURL].
func (e *APIError) Error() string {
	if e.Method == "" {
		return "phlo: " + e.summary()
	}
	return "phlo: " + e.Method + " " + e.origin + e.Path + ": " + e.summary()
}

// summary is the status, the server's words and the api_id.
func (e *APIError) summary() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if e.Message != "" && e.Message != http.StatusText(e.StatusCode) {
		b.WriteString(": ")
		b.WriteString(cleanText(e.Message, maxErrorText))
	}
	if e.APIID != "" {
		b.WriteString(" (api_id ")
		b.WriteString(cleanText(e.APIID, maxAPIIDText))
		b.WriteByte(')')
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteByte(')')
	}
	return b.String()
}

// Is reports whether target is the sentinel for e's status class, or
// ErrOutcomeUnknown when the runner may have acted: after a 5xx, which
// says the runner failed without saying how far it got, or when an earlier
// attempt may have reached it.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	case ErrOutcomeUnknown:
		return e.StatusCode >= 500 && e.StatusCode <= 599 || e.mayHaveActed
	}
	return false
}

// ArgumentError reports bad input caught before any request was sent.
// It matches ErrInvalidArgument, or ErrMissingCredentials for absent
// credentials.
type ArgumentError struct {
	// Name is the parameter at fault, as the SDK's API spells it.
	Name string
	// Reason says what is wrong with it.
	Reason string

	kind error
}

// Error names the parameter and the problem. It never quotes a credential.
func (e *ArgumentError) Error() string {
	kind := e.kind
	if kind == nil {
		kind = ErrInvalidArgument
	}
	return "phlo: " + kind.Error() + ": " + e.Name + " " + e.Reason
}

// Unwrap returns ErrInvalidArgument or ErrMissingCredentials.
func (e *ArgumentError) Unwrap() error {
	if e.kind == nil {
		return ErrInvalidArgument
	}
	return e.kind
}

func invalidArgument(name, format string, args ...any) *ArgumentError {
	return &ArgumentError{Name: name, Reason: fmt.Sprintf(format, args...), kind: ErrInvalidArgument}
}

// requestError is every failure that is not a reply: a transport error, an
// invalid reply, the context ending. It wraps the context's error, the cause
// that ended the context, the last attempt's error, and ErrNotSent or
// ErrOutcomeUnknown, for errors.Is and errors.As; its text is theirs,
// cleaned and redacted, on one line.
type requestError struct {
	method, path string
	// origin is the runner's scheme://host[/prefix] when it is not
	// Plivo's, so that the text says where the request went.
	origin   string
	text     string
	errs     []error
	attempts int
}

func (e *requestError) Error() string {
	return "phlo: " + e.method + " " + e.origin + e.path + ": " + e.text
}

func (e *requestError) Unwrap() []error { return e.errs }

// addContext adds the context's error and the cause that ended it, and
// says when it ended.
func (e *requestError) addContext(ctx context.Context, when string) {
	ctxErr := ctx.Err()
	e.errs = append(e.errs, ctxErr)
	text := ctxErr.Error()
	if cause := context.Cause(ctx); cause != ctxErr {
		e.errs = append(e.errs, cause)
		text += " (" + cause.Error() + ")"
	}
	e.addText(text + when)
}

func (e *requestError) addText(text string) {
	if e.text != "" {
		e.text += ": "
	}
	e.text += text
}

// done adds the last attempt's error, if any, with its words, then what
// the call's attempts say: whether the runner may have acted, and how many
// there were.
func (e *requestError) done(calls tally, last error, words string) *requestError {
	e.attempts = calls.attempts
	if last != nil {
		e.errs = append(e.errs, last)
	}
	if words != "" {
		e.addText(words)
	}
	class := calls.class()
	if class == nil {
		return e
	}
	e.errs = append(e.errs, class)
	e.text += " (" + class.Error()
	if calls.attempts > 1 {
		e.text += " after " + strconv.Itoa(calls.attempts) + " attempts"
	}
	e.text += ")"
	return e
}

// timeoutError is the cause of a context that WithTimeout's bound ended. It
// matches context.DeadlineExceeded.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string {
	return "the client's timeout of " + e.d.String() + " ran out (phlo.WithTimeout)"
}

func (e timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, as net.Error's does for a deadline.
func (e timeoutError) Timeout() bool { return true }

// cleanText makes a server's words fit for one line of an error: see fold;
// at most max bytes, cut at a character boundary with "…".
func cleanText(s string, max int) string {
	return cutText(fold(s, max, false), max)
}

// fold makes text fit for one line: valid UTF-8, control and format
// characters removed, white space folded to one space, and, for an HTML
// page such as a proxy's error page, the tags removed, so that it reads
// "502 Bad Gateway" rather than markup. It stops once it holds more than
// limit bytes.
func fold(s string, limit int, html bool) string {
	var b strings.Builder
	space, inTag := false, false
	for _, r := range s {
		switch {
		case html && r == '<':
			inTag = true
			space = b.Len() > 0
			continue
		case html && r == '>':
			inTag = false
			continue
		case inTag:
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = b.Len() > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		if b.Len() > limit {
			break
		}
	}
	return b.String()
}

const ellipsis = "…"

// cutText returns s if it fits in max bytes, else s cut with "…".
func cutText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return ellipsize(s, max)
}

// ellipsize cuts s at a character boundary so that it fits in max bytes
// with "…" after it, which says that text was left out.
func ellipsize(s string, max int) string {
	cut := min(len(s), max-len(ellipsis))
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
