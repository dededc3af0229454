package phlo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// reached the server: after a 502, 503 or 504, or a failure once it was
	// written. GETs always are. A request that provably never reached the
	// runner ([ErrNotSent]) is sent again whatever this says.
	Idempotent bool

	// op names the SDK's call for logs and says which values are personal
	// data; the handles fill it, Do leaves it empty.
	op operation
}

// Do sends r and decodes the JSON reply into out, which must be nil or a
// non-nil pointer. A reply with a non-2xx status, or with a non-empty
// "error" field, is an [*APIError]; a successful reply that is empty or not
// a JSON object (the runner always sends one), or whose "api_id" or "error"
// is not a string, matches [ErrInvalidResponse], whether out is nil or not:
// the rule every wrapped action follows. As for every action, the error
// says whether the runner may have acted: see [ErrNotSent] and
// [ErrOutcomeUnknown].
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
func (c *RestClient) do(ctx context.Context, r *Request, out any) (err error) {
	if ctx == nil {
		return invalidArgument("ctx", "must not be nil: use context.Background()")
	}
	if c.origin != "" || c.masked || c.logger != nil {
		defer c.finish(ctx, r, time.Now(), &err)
	}
	if c.timeout > 0 {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > c.timeout {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, c.timeout, c.timeoutCause)
			defer cancel()
		}
	}
	var calls tally
	if ctx.Err() != nil {
		return c.interrupted(ctx, r, calls, nil)
	}
	// Each attempt has its own trace: an HTTP/2 stream may report its
	// last write after RoundTrip returned.
	actx, w := traced(ctx)
	req, body, err := c.newRequest(actx, r)
	if err != nil {
		return err
	}
	idempotent := r.Idempotent || r.Method == http.MethodGet || r.Method == http.MethodHead
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			actx, w = traced(ctx)
			// The transport may still hold the previous attempt's request.
			req = req.WithContext(actx)
		}
		req.Body, req.ContentLength = newBody(body)
		start := time.Now()
		status, apiID, o, err := c.send(ctx, req, w, out)
		if c.logger != nil {
			c.logAttempt(ctx, r, attempt, status, apiID, err, time.Since(start))
		}
		if err == nil {
			return nil
		}
		calls.add(o)
		wait, again := c.retry.next(ctx, attempt, err, o, idempotent)
		if !again {
			return c.fail(ctx, r, calls, err)
		}
		if c.logger != nil {
			c.logRetry(ctx, r, attempt, wait, err)
		}
		if sleep(ctx, wait) != nil {
			return c.interrupted(ctx, r, calls, err)
		}
	}
}

// tally is what the attempts of a call have shown so far.
type tally struct {
	attempts int
	last     outcome
	// mayHaveActed says that an attempt may have reached the runner.
	mayHaveActed bool
}

func (t *tally) add(o outcome) {
	t.attempts++
	t.last = o
	t.mayHaveActed = t.mayHaveActed || o == mayHaveActed || o == unreadable
}

// class is the sentinel the call's failure matches, besides its last
// attempt's error: ErrOutcomeUnknown if any attempt may have reached the
// runner, else ErrNotSent if the last one (or the call, before any) never
// did; nil when a reply said the runner did not act.
func (t tally) class() error {
	switch {
	case t.mayHaveActed:
		return ErrOutcomeUnknown
	case t.attempts == 0 || t.last == notSent:
		return ErrNotSent
	}
	return nil
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

// send makes one attempt, followed on the wire by w. It returns the
// reply's status and api_id, when there were any, for the log, and whether
// the runner may have acted when the attempt failed. The status decides
// whenever one came: a non-2xx reply whose body cannot be read whole is
// still an *APIError with that status.
func (c *RestClient) send(ctx context.Context, req *http.Request, w *wire, out any) (status int, apiID string, o outcome, err error) {
	defer w.release()
	resp, err := c.roundTrip(req)
	if err != nil {
		var ue *url.Error // its URL would carry the auth ID of a run
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if w.neverArrived(err, ctx.Err() != nil) {
			return 0, "", notSent, err
		}
		return 0, "", mayHaveActed, err
	}
	defer resp.Body.Close()

	data, tooLarge, readErr := readBody(resp.Body, resp.ContentLength, c.creds().redactor.longest)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := c.newAPIError(resp.StatusCode, data)
		if readErr != nil {
			e.Message = cleanText("the reply's body was cut short ("+c.creds().redactor.clean(readErr.Error(), maxErrorText, false)+"): "+e.Message, maxErrorText)
		}
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return resp.StatusCode, e.APIID, outcomeOf(e), e
	}
	switch {
	case readErr != nil:
		return resp.StatusCode, "", unreadable, fmt.Errorf("the %d reply was cut short: %w", resp.StatusCode, readErr)
	case tooLarge:
		return resp.StatusCode, "", unreadable, invalidResponse("the %d reply is larger than %d bytes", resp.StatusCode, MaxResponseBytes)
	}
	apiID, err = c.decode(resp.StatusCode, data, out)
	var apiErr *APIError
	if err != nil && !errors.As(err, &apiErr) {
		return resp.StatusCode, apiID, unreadable, err
	}
	return resp.StatusCode, apiID, answered, err
}

// outcomeOf is what a reply says: the runner did not act, unless it
// failed (5xx) without saying how far it got.
func outcomeOf(e *APIError) outcome {
	if e.StatusCode >= 500 {
		return mayHaveActed
	}
	return answered
}

// smallReply is the most of a buffer the SDK sizes from a Content-Length: a
// larger length is read as it comes, so that a lying header costs nothing.
const smallReply = 8 << 10

// readBody reads at most MaxResponseBytes, saying whether there was more.
// It reads slack bytes beyond the limit, which newAPIError cuts off only
// after redacting, so that a credential the cut would split is found whole.
func readBody(r io.Reader, contentLength int64, slack int) (data []byte, tooLarge bool, err error) {
	lr := io.LimitedReader{R: r, N: MaxResponseBytes + int64(slack) + 1}
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
	return data, len(data) > MaxResponseBytes, err
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
	env.APIID = c.creds().redactor.clean(env.APIID, maxAPIIDText, false)
	switch out := out.(type) {
	case nil:
	case *ActionResponse:
		*out = ActionResponse{APIID: env.APIID}
	default:
		if err := json.Unmarshal(data, out); err != nil {
			return env.APIID, invalidResponse("the %d reply cannot be decoded (%v): %s", status, err, c.sample(data))
		}
		if p := apiIDOf(out); p != nil {
			*p = env.APIID
		}
	}
	return env.APIID, nil
}

func invalidResponse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidResponse}, args...)...)
}

// newAPIError describes a reply that was not a success, whatever its body,
// with every credential the server may have echoed redacted. data may run
// past MaxResponseBytes (see readBody): Body is cut there after redacting.
func (c *RestClient) newAPIError(status int, data []byte) *APIError {
	r := c.creds().redactor
	text := string(data)
	body := r.redactPrefix(text, min(len(text), MaxResponseBytes))
	e := &APIError{StatusCode: status, Body: []byte(body[:min(len(body), MaxResponseBytes)])}
	var env envelope
	if json.Unmarshal(data, &env) == nil {
		e.APIID = r.clean(env.APIID, maxAPIIDText, false)
		e.Message = r.clean(env.Error, maxErrorText, false)
	} else {
		e.Message = c.sampleText(text)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// sample is a short, printable, redacted excerpt of a reply body for an
// error message; an HTML page, such as a proxy's error page, reads as its
// text.
func (c *RestClient) sample(body []byte) string {
	return c.sampleText(string(body))
}

func (c *RestClient) sampleText(s string) string {
	html := strings.HasPrefix(strings.TrimSpace(s), "<")
	return c.creds().redactor.clean(s, maxErrorText, html)
}

// fail is the error of a call that its last attempt's error, err, ends.
// An *APIError comes back as it is; anything else is dressed with the
// request, and with the context's end if it has ended.
func (c *RestClient) fail(ctx context.Context, r *Request, calls tally, err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		c.describe(apiErr, r, calls)
		return apiErr
	}
	e := c.newRequestError(r)
	if ctxErr := ctx.Err(); ctxErr != nil {
		e.addContext(ctx, "")
		if errors.Is(err, ctxErr) { // the context's words say it all
			return e.done(calls, err, "")
		}
	}
	return e.done(calls, err, c.reason(r, err))
}

// interrupted is the error of a call whose context ended before its first
// attempt (last is nil), or while it waited to retry after last, the error
// of its last attempt.
func (c *RestClient) interrupted(ctx context.Context, r *Request, calls tally, last error) error {
	e := c.newRequestError(r)
	if last == nil {
		e.addContext(ctx, "")
		return e.done(calls, nil, "")
	}
	var apiErr *APIError
	if errors.As(last, &apiErr) {
		c.describe(apiErr, r, calls)
	}
	e.addContext(ctx, " while waiting to retry")
	return e.done(calls, last, c.reason(r, last))
}

func (c *RestClient) newRequestError(r *Request) *requestError {
	return &requestError{method: r.Method, path: c.displayPath(r)}
}

// describe fills in which request an *APIError belongs to.
func (c *RestClient) describe(e *APIError, r *Request, calls tally) {
	e.Method, e.Path, e.Attempts = r.Method, c.displayPath(r), calls.attempts
	e.mayHaveActed = calls.mayHaveActed
}
