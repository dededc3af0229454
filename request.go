package phlo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-querystring/query"
)

// Request is one call to any PHLO endpoint, for endpoints the SDK does not
// wrap yet. It goes through the same path as every wrapped action: the same
// validation, auth, headers, retries, errors and bounded reads.
type Request struct {
	// Method is the HTTP method: GET, POST, ...
	Method string
	// Path holds the segments under /v1, each escaped as one segment:
	// {"phlo", phloID, "runs", runID}.
	Path []string
	// Query is a struct with `url:"..."` tags, encoded with
	// github.com/google/go-querystring, or url.Values, or nil.
	Query any
	// Body is encoded as JSON (a json.RawMessage is sent as it is); nil
	// sends no body.
	Body any
	// Idempotent says that sending the request twice leaves the runner as
	// sending it once would, so that it may be sent again after it may have
	// reached the server: on 502, 503, 504 and transport errors. GETs always
	// are.
	Idempotent bool
}

// Do sends r and decodes the JSON reply into out, which must be nil or a
// non-nil pointer. A reply with a non-2xx status, or with a non-empty
// "error" field, is an [*APIError]; a successful reply that is empty or not
// a JSON object (the runner always sends one), or whose "api_id" or "error"
// is not a string, matches [ErrInvalidResponse], whether out is nil or not:
// the rule every wrapped action follows.
func (c *RestClient) Do(ctx context.Context, r Request, out any) error {
	switch {
	case c == nil || c.creds == nil:
		return errNoClient
	case r.Method == "" || strings.IndexFunc(r.Method, isNotTokenRune) >= 0:
		return invalidArgument("Request.Method", "must be an HTTP method")
	case len(r.Path) == 0:
		return invalidArgument("Request.Path", "must not be empty")
	}
	for i, seg := range r.Path {
		if err := checkSegment(fmt.Sprintf("Request.Path[%d]", i), seg); err != nil {
			return err
		}
	}
	if raw, ok := r.Body.(json.RawMessage); ok && !json.Valid(raw) {
		return invalidArgument("Request.Body", "is not valid JSON")
	}
	if out != nil {
		if v := reflect.ValueOf(out); v.Kind() != reflect.Pointer || v.IsNil() {
			return invalidArgument("out", "must be nil or a non-nil pointer, not %T", out)
		}
	}
	return c.do(ctx, &r, out)
}

func isNotTokenRune(r rune) bool {
	return r < '!' || r > '~' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
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

// do is the single request path. Its callers have checked the client, r's
// method, path segments and any raw JSON body, each naming its own
// parameters in the error; the SDK's own raw bodies are built valid once.
func (c *RestClient) do(ctx context.Context, r *Request, out any) error {
	if ctx == nil {
		return invalidArgument("ctx", "must not be nil: use context.Background()")
	}
	if c.timeout > 0 {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > c.timeout {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, c.timeout, c.timeoutCause)
			defer cancel()
		}
	}
	req, body, err := c.newRequest(ctx, r)
	if err != nil {
		return err
	}
	idempotent := r.Idempotent || r.Method == http.MethodGet || r.Method == http.MethodHead
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return c.fail(ctx, r, attempt-1, nil, false)
		}
		if attempt > 1 {
			// The transport may still hold the previous attempt's request.
			cp := *req
			req = &cp
		}
		req.Body, req.ContentLength = newBody(body)
		start := time.Now()
		status, apiID, err := c.send(req, out)
		if c.logger != nil {
			c.logAttempt(ctx, r, attempt, status, apiID, err, time.Since(start))
		}
		if err == nil {
			return nil
		}
		wait, again := c.retry.next(ctx, attempt, err, idempotent)
		if !again {
			return c.fail(ctx, r, attempt, err, false)
		}
		if c.logger != nil {
			c.logRetry(ctx, r, attempt, wait, err)
		}
		if sleep(ctx, wait) != nil {
			return c.fail(ctx, r, attempt, err, true)
		}
	}
}

// newRequest builds the request once per call: the URL from the parsed base
// and each path segment escaped as one segment, and the headers. Each
// attempt gets its own body.
func (c *RestClient) newRequest(ctx context.Context, r *Request) (*http.Request, []byte, error) {
	q, err := encodeQuery(r.Query)
	if err != nil {
		return nil, nil, err
	}
	body, err := encodeBody(r.Body)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, "", nil)
	if err != nil {
		return nil, nil, invalidArgument("Request", "cannot be built: %v", err)
	}
	u := req.URL
	u.Scheme, u.Host, u.RawQuery = c.base.Scheme, c.base.Host, q
	u.RawPath = joinPath(c.base.RawPath, r.Path, url.PathEscape)
	u.Path = u.RawPath
	if c.base.Path != c.base.RawPath || strings.Contains(u.RawPath, "%") {
		u.Path = joinPath(c.base.Path, r.Path, nil)
	} else {
		u.RawPath = "" // nothing was escaped
	}
	req.Host = u.Host
	h := req.Header
	h["Authorization"] = c.creds().basicAuth
	h["User-Agent"] = c.headers.userAgent
	h["Accept"] = c.headers.json
	if body != nil {
		h["Content-Type"] = c.headers.json
	}
	return req, body, nil
}

// joinPath is base, then each segment after a slash, passed through escape
// when it is not nil.
func joinPath(base string, segs []string, escape func(string) string) string {
	n := len(base)
	for _, seg := range segs {
		n += 1 + 3*len(seg)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(base)
	for _, seg := range segs {
		b.WriteByte('/')
		if escape != nil {
			seg = escape(seg)
		}
		b.WriteString(seg)
	}
	return b.String()
}

// newBody returns an attempt's body. net/http sends a request again on its
// own (HTTP/2 after a refused or reset stream or a GOAWAY, HTTP/1 on a
// reused connection that failed) only when it has no body or can get the
// body again through GetBody. A body read once, with no GetBody, leaves
// every second send to the retry policy. A GET gets an empty one for the
// same reason: net/http sends it as a request with no body.
func newBody(body []byte) (io.ReadCloser, int64) {
	return io.NopCloser(bytes.NewReader(body)), int64(len(body))
}

func encodeQuery(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case url.Values:
		return v.Encode(), nil
	}
	vals, err := query.Values(v)
	if err != nil {
		return "", invalidArgument("Request.Query", "cannot be encoded: %v", err)
	}
	return vals.Encode(), nil
}

func encodeBody(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return b, nil
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, invalidArgument("Request.Body", "cannot be encoded as JSON: %v", err)
	}
	return body, nil
}

// send makes one attempt. It returns the reply's status and api_id, when
// there were any, for the log.
func (c *RestClient) send(req *http.Request, out any) (status int, apiID string, err error) {
	resp, err := c.roundTrip(req)
	if err != nil {
		var ue *url.Error // its URL would carry the auth ID of a run
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, "", err
	}
	defer resp.Body.Close()

	data, tooLarge, err := readBody(resp.Body, resp.ContentLength)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := c.newAPIError(resp.StatusCode, data)
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return resp.StatusCode, e.APIID, e
	}
	if tooLarge {
		return resp.StatusCode, "", invalidResponse("the %d reply is larger than %d bytes", resp.StatusCode, MaxResponseBytes)
	}
	apiID, err = c.decode(resp.StatusCode, data, out)
	return resp.StatusCode, apiID, err
}

// smallReply is the most of a buffer the SDK sizes from a Content-Length: a
// larger length is read as it comes, so that a lying header costs nothing.
const smallReply = 8 << 10

// readBody reads at most MaxResponseBytes, saying whether there was more.
func readBody(r io.Reader, contentLength int64) (data []byte, tooLarge bool, err error) {
	lr := io.LimitedReader{R: r, N: MaxResponseBytes + 1}
	if contentLength >= 0 && contentLength < smallReply {
		// One allocation for a reply of the runner's usual size, with room
		// to read EOF.
		data = make([]byte, 0, contentLength+1)
		for {
			n, rerr := lr.Read(data[len(data):cap(data)])
			data = data[:len(data)+n]
			if rerr != nil {
				if rerr != io.EOF {
					err = rerr
				}
				break
			}
			if len(data) == cap(data) {
				data = append(data, 0)[:len(data)]
			}
		}
	} else {
		data, err = io.ReadAll(&lr)
	}
	if len(data) > MaxResponseBytes {
		return data[:MaxResponseBytes], true, err
	}
	return data, false, err
}

// envelope is what every reply of the runner carries.
type envelope struct {
	APIID string `json:"api_id"`
	Error string `json:"error"`
}

// decode applies the one rule for every 2xx reply, whatever out is: its
// body is a JSON object whose "api_id" and "error", where present, are
// strings; a non-empty "error" makes it an *APIError; then it is decoded
// into out, when out is not nil. An empty body is never a success: the
// runner always sends an object.
func (c *RestClient) decode(status int, data []byte, out any) (apiID string, err error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "", invalidResponse("the %d reply has an empty body", status)
	}
	// null, a list or a bare value would decode into an empty result that
	// looks like success.
	if trimmed[0] != '{' {
		return "", invalidResponse("the %d reply is not a JSON object: %s", status, c.sample(data))
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return "", invalidResponse("the %d reply cannot be decoded (%v): %s", status, err, c.sample(data))
	}
	if env.Error != "" {
		e := c.newAPIError(status, data)
		return e.APIID, e
	}
	switch out := out.(type) {
	case nil:
	case *ActionResponse:
		*out = ActionResponse{APIID: env.APIID}
	default:
		if err := json.Unmarshal(data, out); err != nil {
			return env.APIID, invalidResponse("the %d reply cannot be decoded (%v): %s", status, err, c.sample(data))
		}
	}
	return env.APIID, nil
}

func invalidResponse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidResponse}, args...)...)
}

// newAPIError describes a reply that was not a success, whatever its body,
// with every credential the server may have echoed redacted.
func (c *RestClient) newAPIError(status int, data []byte) *APIError {
	e := &APIError{StatusCode: status, Body: []byte(c.redact(string(data)))}
	var env struct {
		APIID string `json:"api_id"`
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil {
		e.APIID = cleanText(c.redact(env.APIID), maxAPIIDText)
		e.Message = cleanText(c.redact(env.Error), maxErrorText)
	} else {
		e.Message = c.sample(data)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// sample is a short, printable, redacted excerpt of a reply body for an
// error message.
func (c *RestClient) sample(body []byte) string {
	s := string(body[:min(len(body), 4*maxErrorText)])
	if strings.HasPrefix(strings.TrimSpace(s), "<") {
		s = stripTags(s)
	}
	return cleanText(c.redact(s), maxErrorText)
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

// fail dresses the last attempt's error with the request it belongs to.
// err is nil when the context ended before an attempt; waiting says it ended
// during the wait before a retry.
func (c *RestClient) fail(ctx context.Context, r *Request, attempts int, err error, waiting bool) error {
	path := c.displayPath(r.Path)
	var apiErr *APIError
	isAPIErr := errors.As(err, &apiErr)
	if isAPIErr {
		apiErr.Method, apiErr.Path, apiErr.Attempts = r.Method, path, attempts
	}
	if isAPIErr && !waiting {
		return apiErr
	}
	var argErr *ArgumentError
	if errors.As(err, &argErr) {
		return argErr
	}
	ctxErr := ctx.Err()
	e := &requestError{method: r.Method, path: path}
	var text []string
	if ctxErr != nil {
		e.errs = append(e.errs, ctxErr)
		text = append(text, ctxErr.Error())
		if cause := context.Cause(ctx); cause != ctxErr {
			e.errs = append(e.errs, cause)
			text[0] += " (" + cause.Error() + ")"
		}
		if waiting {
			text[0] += " while waiting to retry"
		}
	}
	if err != nil {
		e.errs = append(e.errs, err)
		switch {
		case isAPIErr:
			text = append(text, apiErr.summary())
		case ctxErr == nil || !errors.Is(err, ctxErr):
			text = append(text, cleanText(c.redact(err.Error()), maxErrorText))
		}
	}
	e.text = strings.Join(text, ": ")
	return e
}

// displayPath is the request path for errors and logs, with the auth ID
// hidden.
func (c *RestClient) displayPath(path []string) string {
	authID := c.creds().authID
	var b strings.Builder
	b.WriteString("/v1")
	for _, seg := range path {
		b.WriteByte('/')
		if seg == authID {
			b.WriteString("{auth_id}")
		} else {
			b.WriteString(url.PathEscape(seg))
		}
	}
	return b.String()
}

func (c *RestClient) logAttempt(ctx context.Context, r *Request, attempt, status int, apiID string, err error, d time.Duration) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", c.displayPath(r.Path)),
		slog.Int("status", status),
		slog.String("api_id", apiID),
		slog.Int("attempt", attempt),
		slog.Duration("duration", d),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", c.reason(err)))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "phlo request", attrs...)
}

func (c *RestClient) logRetry(ctx context.Context, r *Request, attempt int, wait time.Duration, err error) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "phlo retry",
		slog.String("method", r.Method),
		slog.String("path", c.displayPath(r.Path)),
		slog.Duration("wait", wait),
		slog.Int("attempt", attempt),
		slog.String("reason", c.reason(err)),
	)
}

// reason words an attempt's failure for the log: the status and the
// server's words, or the transport error, cleaned and redacted.
func (c *RestClient) reason(err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.summary()
	}
	return cleanText(c.redact(err.Error()), maxErrorText)
}
