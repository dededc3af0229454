package phlo

import (
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
var (
	// ErrInvalidArgument is matched by every error for bad input that the SDK
	// caught before sending anything.
	ErrInvalidArgument = errors.New("phlo: invalid argument")
	// ErrMissingCredentials is matched when no auth ID or auth token was
	// given, either as an argument or in PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN.
	ErrMissingCredentials = errors.New("phlo: missing credentials")

	// ErrBadRequest is matched by an *APIError with status 400.
	ErrBadRequest = errors.New("phlo: bad request")
	// ErrUnauthorized is matched by an *APIError with status 401.
	ErrUnauthorized = errors.New("phlo: unauthorized")
	// ErrForbidden is matched by an *APIError with status 403.
	ErrForbidden = errors.New("phlo: forbidden")
	// ErrNotFound is matched by an *APIError with status 404.
	ErrNotFound = errors.New("phlo: not found")
	// ErrRateLimited is matched by an *APIError with status 429.
	ErrRateLimited = errors.New("phlo: rate limited")
	// ErrServer is matched by an *APIError with a 5xx status.
	ErrServer = errors.New("phlo: server error")

	// ErrInvalidResponse is matched when a successful reply cannot be
	// decoded: it is not JSON, is empty where a body was expected, or is
	// larger than the SDK reads.
	ErrInvalidResponse = errors.New("phlo: invalid response")
)

// maxBodySample is how much of an error body APIError.Error quotes when the
// body is not the API's JSON error object.
const maxBodySample = 200

// APIError is the error for every reply the runner did not answer with
// success: any status outside 2xx (a 3xx included, since redirects are never
// followed), and a 2xx whose "error" field is not empty.
//
// Use errors.As to get at its fields, and errors.Is with ErrBadRequest,
// ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited or ErrServer to
// test its class.
type APIError struct {
	// StatusCode is the HTTP status of the reply.
	StatusCode int
	// APIID is the request's api_id, when the body carried one.
	APIID string
	// Message is the body's "error" text; when the body is not the API's
	// JSON error object it is a short sample of the body, or the status
	// text when the body is empty.
	Message string
	// Body is the raw reply body, read up to the SDK's 1 MiB limit.
	Body []byte
	// RetryAfter is the wait the server asked for in a Retry-After header,
	// or zero. It is set when the SDK gave up without waiting because the
	// wait was longer than the retry policy's MaxDelay or than the context
	// allows, so that the caller can decide.
	RetryAfter time.Duration
	// Method and Path say which request failed. A path segment equal to
	// the auth ID reads "{auth_id}".
	Method, Path string
	// Attempts is how many times the request was sent.
	Attempts int
}

// Error describes the failure in one line.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("phlo: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if e.Message != "" && e.Message != http.StatusText(e.StatusCode) {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.APIID != "" {
		b.WriteString(" (api_id ")
		b.WriteString(e.APIID)
		b.WriteByte(')')
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteByte(')')
	}
	return b.String()
}

// Is reports whether target is the sentinel for e's status class.
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
	return e.kind.Error() + ": " + e.Name + " " + e.Reason
}

// Unwrap returns ErrInvalidArgument or ErrMissingCredentials.
func (e *ArgumentError) Unwrap() error { return e.kind }

func invalidArgument(name, format string, args ...any) *ArgumentError {
	return &ArgumentError{Name: name, Reason: fmt.Sprintf(format, args...), kind: ErrInvalidArgument}
}

// checkSegment reports why s cannot be one path segment of a request, or
// returns nil. Escaping makes any other string safe, but an empty segment,
// "." and ".." change the route after normalisation by proxies and servers,
// and control characters are never part of an ID or an address.
func checkSegment(name, s string) error {
	switch s {
	case "":
		return invalidArgument(name, "must not be empty")
	case ".", "..":
		return invalidArgument(name, "must not be %q", s)
	}
	return checkText(name, s)
}

// checkText rejects invalid UTF-8 and control characters.
func checkText(name, s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return invalidArgument(name, "must not contain control characters")
		}
		if c >= utf8.RuneSelf {
			return checkRunes(name, s[i:])
		}
	}
	return nil
}

func checkRunes(name, s string) error {
	if !utf8.ValidString(s) {
		return invalidArgument(name, "must be valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalidArgument(name, "must not contain control characters")
		}
	}
	return nil
}

// sampleBody makes a short, printable excerpt of a reply body for an error
// message.
func sampleBody(body []byte) string {
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	if strings.HasPrefix(strings.TrimSpace(s), "<") {
		s = stripTags(s)
	}
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if utf8.RuneCountInString(s) > maxBodySample {
		r := []rune(s)
		s = string(r[:maxBodySample]) + "…"
	}
	return s
}

// stripTags keeps the text of an HTML page, such as a proxy's error page,
// so that the sample says "502 Bad Gateway" rather than quoting markup.
func stripTags(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
			b.WriteByte(' ')
		case r == '>':
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return b.String()
}
