package phlo

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// operation says which of the SDK's calls a request is, for its log
// records, and which of its values are personal data, for
// WithMaskedAddresses.
type operation struct {
	// action is the call's name: hold, unhold, call, run, get, get_run, ...;
	// empty for Do, whose records say "do".
	action string
	// nodeKind is multi_party_call or conference_bridge; empty for a PHLO.
	nodeKind string
	// address is the member's address, the request path's last segment.
	address string
	// to and triggerSource are the call parameters, sent in the body.
	to, triggerSource string
	// masker and path are built on the call's first use of each and kept,
	// the masker with its replacer, for the rest of the call's attempts,
	// records and errors.
	masker *redactor
	path   string
}

func (o *operation) name() string {
	if o.action == "" {
		return "do"
	}
	return o.action
}

// displayPath is the request path for errors and logs, with the auth ID
// hidden and, when the client masks addresses, the member's address masked.
func (c *RestClient) displayPath(r *Request) string {
	if r.op.path == "" {
		r.op.path = c.buildPath(r)
	}
	return r.op.path
}

func (c *RestClient) buildPath(r *Request) string {
	authID := c.creds().authID
	var b strings.Builder
	b.WriteString("/v1")
	for i, seg := range r.Path {
		b.WriteByte('/')
		switch {
		case seg == authID:
			b.WriteString("{auth_id}")
		case c.masked && i == len(r.Path)-1 && seg == r.op.address:
			stars, last := splitMask(seg)
			b.WriteString(strings.Repeat("*", stars)) // literal: a reader sees what was hidden
			b.WriteString(url.PathEscape(last))
		default:
			b.WriteString(url.PathEscape(seg))
		}
	}
	return b.String()
}

// splitMask says how many characters of s a mask hides, all but the last
// four, and returns those four.
func splitMask(s string) (stars int, last string) {
	n := utf8.RuneCountInString(s)
	if n <= 4 {
		return 0, s
	}
	i := len(s)
	for range 4 {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return n - 4, s[i:]
}

// maskAddress shows every character of s but the last four as '*':
// "+14155550100" reads "********0100".
func maskAddress(s string) string {
	stars, last := splitMask(s)
	return strings.Repeat("*", stars) + last
}

// masker finds the request's personal values, as they were sent or
// escaped in a path, and replaces each with its masked form. It is built
// once per call: r is the call's own copy.
func (c *RestClient) masker(r *Request) *redactor {
	if r.op.masker != nil {
		return r.op.masker
	}
	m := &redactor{}
	for _, v := range []string{r.op.address, r.op.to, r.op.triggerSource} {
		if v != "" {
			m.add(v, maskAddress(v))
			m.add(url.PathEscape(v), maskAddress(v))
		}
	}
	r.op.masker = m
	return m
}

// mask masks the request's personal values in s when the client masks
// addresses: wherever one shows whole, and where a cut to length ("…") or
// the end of s leaves the start of one.
func (c *RestClient) mask(r *Request, s string) string {
	if !c.masked || s == "" {
		return s
	}
	m := c.masker(r)
	s = m.redact(s)
	for i := 0; ; {
		j := strings.Index(s[i:], ellipsis)
		if j < 0 {
			break
		}
		head := m.maskStart(s[:i+j])
		s = head + s[i+j:]
		i = len(head) + len(ellipsis)
	}
	return m.maskStart(s)
}

// maskStart masks the end of s when it is the start of a needle, as a cut
// leaves it.
func (m *redactor) maskStart(s string) string {
	for _, n := range m.needles {
		for l := min(len(n.text)-1, len(s)); l >= 2; l-- {
			if strings.HasSuffix(s, n.text[:l]) && utf8.ValidString(n.text[:l]) {
				masked := []rune(n.with)
				k := min(utf8.RuneCountInString(n.text[:l]), len(masked))
				return s[:len(s)-l] + string(masked[:k])
			}
		}
	}
	return s
}

// finish dresses the error of a call that failed, however it ended: its
// text names the runner when it is not Plivo's, addresses are masked when
// the client masks them, and the logger gets one record at Warn, unless
// the caller's own context, ctx, ended the call or no attempt was made.
func (c *RestClient) finish(ctx context.Context, r *Request, start time.Time, errp *error) {
	err := *errp
	if err == nil {
		return
	}
	var apiErr *APIError
	var reqErr *requestError
	attempts := 0
	if errors.As(err, &apiErr) {
		apiErr.origin = c.origin
		attempts = apiErr.Attempts
		if c.masked {
			apiErr.Message = c.mask(r, apiErr.Message)
			apiErr.APIID = c.mask(r, apiErr.APIID)
			apiErr.Body = []byte(c.mask(r, string(apiErr.Body)))
		}
	}
	if errors.As(err, &reqErr) {
		reqErr.origin = c.origin
		attempts = reqErr.attempts
	}
	if c.logger != nil && attempts > 0 && ctx.Err() == nil {
		c.logFailure(ctx, r, err, apiErr, attempts, time.Since(start))
	}
}

// logAttrs are the attributes every record carries first.
func (c *RestClient) logAttrs(r *Request, attrs ...slog.Attr) []slog.Attr {
	return append([]slog.Attr{
		slog.String("action", r.op.name()),
		slog.String("node_kind", r.op.nodeKind),
		slog.String("host", c.base.Host),
		slog.String("method", r.Method),
		slog.String("path", c.displayPath(r)),
	}, attrs...)
}

func (c *RestClient) logAttempt(ctx context.Context, r *Request, attempt, status int, apiID string, err error, d time.Duration) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := c.logAttrs(r,
		slog.Int("status", status),
		slog.String("api_id", c.mask(r, apiID)),
		slog.Int("attempt", attempt),
		slog.Duration("duration", d),
	)
	if err != nil {
		attrs = append(attrs, slog.String("error", c.reason(r, err)))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "phlo request", attrs...)
}

func (c *RestClient) logRetry(ctx context.Context, r *Request, attempt int, wait time.Duration, err error) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "phlo retry", c.logAttrs(r,
		slog.Duration("wait", wait),
		slog.Int("attempt", attempt),
		slog.String("reason", c.reason(r, err)),
	)...)
}

// logFailure writes the one record of a call that failed, at Warn, so that
// a service logging at Info sees it.
func (c *RestClient) logFailure(ctx context.Context, r *Request, err error, apiErr *APIError, attempts int, d time.Duration) {
	if !c.logger.Enabled(ctx, slog.LevelWarn) {
		return
	}
	var status int
	var apiID string
	if apiErr != nil {
		status, apiID = apiErr.StatusCode, apiErr.APIID
	}
	c.logger.LogAttrs(ctx, slog.LevelWarn, "phlo call failed", c.logAttrs(r,
		slog.Int("status", status),
		slog.String("api_id", apiID),
		slog.Int("attempts", attempts),
		slog.Duration("duration", d),
		slog.String("error", err.Error()),
	)...)
}

// reason words an attempt's failure for errors and the log: the status and
// the server's words, or the transport error, cleaned, redacted and masked.
func (c *RestClient) reason(r *Request, err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return c.mask(r, apiErr.summary())
	}
	return c.mask(r, c.creds().redactor.clean(err.Error(), maxErrorText, false))
}
