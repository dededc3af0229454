// Package phlo is a client for Plivo's PHLO runner API, built around the
// multi-party call node: put a member on hold, take them off, hang up,
// transfer, drop a voicemail, and get or run a PHLO.
//
// Build one *RestClient and share it; reach a resource through handles that
// cost no I/O, then act on it with a context:
//
//	client, err := phlo.NewRestClient("", "") // PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN
//	if err != nil { ... }
//	member := client.Phlo(phloID).MultiPartyCall(nodeID).Member("+14155550100")
//	resp, err := member.Hold(ctx)
//
// Holding a member is one request. Every failure is an error to inspect with
// errors.As (*APIError, *ArgumentError) and errors.Is (ErrNotFound and the
// other sentinels, context.Canceled, context.DeadlineExceeded).
//
// Package phlotest provides a fake runner for tests that need no network.
package phlo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-querystring/query"
)

// Version is the SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is the PHLO runner's address.
const DefaultBaseURL = "https://phlorunner.plivo.com"

// DefaultTimeout bounds a whole call, retries included, unless WithTimeout
// says otherwise.
const DefaultTimeout = 30 * time.Second

// MaxResponseBytes is the most of a reply body the SDK reads. A successful
// reply larger than this is an error; an error reply is cut at this length.
const MaxResponseBytes = 1 << 20

// Environment variables read when NewRestClient is given empty credentials.
const (
	EnvAuthID    = "PLIVO_AUTH_ID"
	EnvAuthToken = "PLIVO_AUTH_TOKEN"
)

var sdkAgent = "phlo-go/" + Version + " (" + runtime.Version() + "; " + runtime.GOOS + "/" + runtime.GOARCH + ")"

// RestClient talks to the PHLO runner. It is safe for concurrent use by many
// goroutines; build one and share it.
//
// Printing a RestClient with any fmt verb or through slog never shows its
// credentials.
type RestClient struct {
	// creds is behind a pointer so that even fmt's reflection, which
	// prints a struct's unexported fields, shows only an address.
	creds   *credentials
	headers requestHeaders
	base    string // scheme://host[/prefix]/v1, no trailing slash
	http    *http.Client
	timeout time.Duration
	retry   RetryPolicy
	logger  *slog.Logger
}

type credentials struct {
	authID string
	// basicAuth is the Authorization header value, shared read-only by
	// every request.
	basicAuth []string
}

// requestHeaders are built once per client and shared, read-only, by every
// request: the transport only reads them.
type requestHeaders struct {
	userAgent, json []string
}

// Option configures a RestClient. Options that are given bad values make
// NewRestClient return an error.
type Option func(*settings) error

type settings struct {
	baseURL   string
	client    *http.Client
	userAgent string
	timeout   time.Duration
	retry     RetryPolicy
	logger    *slog.Logger
}

// WithBaseURL points the client at another runner, such as a phlotest.Server.
// The URL must be https, or http to a loopback host (127.0.0.0/8, ::1,
// localhost): basic auth is never sent in clear over a network. A path
// prefix is kept; "/v1" is added after it.
func WithBaseURL(rawURL string) Option {
	return func(s *settings) error {
		s.baseURL = rawURL
		return nil
	}
}

// WithHTTPClient makes the client send through c. The SDK uses a copy of c
// that never follows redirects, so c itself is not changed. c's Timeout, if
// any, applies to each attempt; WithTimeout bounds the whole call.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) error {
		if c == nil {
			return invalidArgument("WithHTTPClient", "must not be nil")
		}
		s.client = c
		return nil
	}
}

// WithUserAgent puts the application's product token, such as
// "callrouter/2.1", before the SDK's own in the User-Agent header.
func WithUserAgent(product string) Option {
	return func(s *settings) error {
		product = strings.TrimSpace(product)
		if product == "" {
			return invalidArgument("WithUserAgent", "must not be empty")
		}
		if err := checkText("WithUserAgent", product); err != nil {
			return err
		}
		s.userAgent = product
		return nil
	}
}

// WithTimeout bounds every call, retries and waits included; the default is
// DefaultTimeout. Zero means no bound beyond the context's own. A context
// deadline that comes sooner still wins.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d < 0 {
			return invalidArgument("WithTimeout", "must not be negative")
		}
		s.timeout = d
		return nil
	}
}

// WithLogger makes the client write one debug record per attempt: method,
// path, status, api_id, attempt and duration. Records never carry a
// credential; a path segment equal to the auth ID reads "{auth_id}".
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		s.logger = l
		return nil
	}
}

// NewRestClient returns a client that authenticates with authID and
// authToken. An empty authID or authToken is read from PLIVO_AUTH_ID or
// PLIVO_AUTH_TOKEN; if it is still empty the error matches
// ErrMissingCredentials.
func NewRestClient(authID, authToken string, opts ...Option) (*RestClient, error) {
	if authID == "" {
		authID = os.Getenv(EnvAuthID)
	}
	if authToken == "" {
		authToken = os.Getenv(EnvAuthToken)
	}
	if authID == "" {
		return nil, &ArgumentError{Name: "authID", Reason: "is empty and " + EnvAuthID + " is not set", kind: ErrMissingCredentials}
	}
	if authToken == "" {
		return nil, &ArgumentError{Name: "authToken", Reason: "is empty and " + EnvAuthToken + " is not set", kind: ErrMissingCredentials}
	}
	// The auth ID is a path segment of the run endpoint and the user half of
	// basic auth, where a colon would split it.
	if err := checkSegment("authID", authID); err != nil {
		return nil, err
	}
	if strings.ContainsAny(authID, ":/?#% ") {
		return nil, invalidArgument("authID", "must not contain ':', '/', '?', '#', '%%' or spaces")
	}
	if err := checkText("authToken", authToken); err != nil {
		return nil, err
	}

	s := settings{baseURL: DefaultBaseURL, timeout: DefaultTimeout, retry: DefaultRetryPolicy()}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	base, err := parseBaseURL(s.baseURL)
	if err != nil {
		return nil, err
	}

	agent := sdkAgent
	if s.userAgent != "" {
		agent = s.userAgent + " " + sdkAgent
	}
	basic := base64.StdEncoding.EncodeToString([]byte(authID + ":" + authToken))
	return &RestClient{
		creds: &credentials{authID: authID, basicAuth: []string{"Basic " + basic}},
		headers: requestHeaders{
			userAgent: []string{agent},
			json:      []string{"application/json"},
		},
		base:    base,
		http:    noRedirects(s.client),
		timeout: s.timeout,
		retry:   s.retry,
		logger:  s.logger,
	}, nil
}

// parseBaseURL checks rawURL and returns it with "/v1" appended.
func parseBaseURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", invalidArgument("WithBaseURL", "is not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", invalidArgument("WithBaseURL", "must use https (or http to a loopback host)")
	case u.Host == "" || u.Opaque != "":
		return "", invalidArgument("WithBaseURL", "must name a host")
	case u.User != nil:
		return "", invalidArgument("WithBaseURL", "must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", invalidArgument("WithBaseURL", "must not have a query or fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "", invalidArgument("WithBaseURL", "must use https unless the host is loopback: basic auth is never sent in clear")
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/") + "/v1", nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newTransport is the default transport: http.DefaultTransport's settings
// with an idle pool large enough that a busy service calling from many
// goroutines reuses connections instead of opening new ones.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	return t
}

// noRedirects returns a copy of c, or a new client, that hands back a
// redirect instead of following it, so that credentials never reach a host
// the caller did not name.
func noRedirects(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	} else {
		cp.Transport = newTransport()
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// CloseIdleConnections closes the client's idle keep-alive connections.
// Call it when the client is no longer needed.
func (c *RestClient) CloseIdleConnections() { c.http.CloseIdleConnections() }

// AuthID returns the auth ID the client authenticates with. The auth token
// cannot be read back.
func (c *RestClient) AuthID() string { return c.creds.authID }

// BaseURL returns the address requests are sent to, with "/v1" appended.
func (c *RestClient) BaseURL() string { return c.base }

// Format prints the client without its credentials, for every verb.
func (c RestClient) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "phlo.RestClient{BaseURL: %q, AuthID: %q}", c.base, redacted)
}

// LogValue keeps credentials out of slog records.
func (c RestClient) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.base), slog.String("auth_id", redacted))
}

const redacted = "[redacted]"

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
	// Idempotent says the request may be repeated after it may have reached
	// the server: on 502, 503, 504 and transport errors. GETs always may.
	Idempotent bool
}

// Do sends r and decodes the JSON reply into out, which may be nil. A reply
// with a non-2xx status, or with a non-empty "error" field, is an *APIError;
// a successful reply that is not a JSON object (the runner always sends
// one) matches ErrInvalidResponse.
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
	return c.do(ctx, &r, out)
}

func isNotTokenRune(r rune) bool {
	return r < '!' || r > '~' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// do is the single request path. Its callers have checked the client, r's
// method, path segments and any raw JSON body, each naming its own
// parameters in the error; the SDK's own raw bodies are built valid once.
func (c *RestClient) do(ctx context.Context, r *Request, out any) error {
	if ctx == nil {
		return invalidArgument("ctx", "must not be nil: use context.Background()")
	}
	target, err := c.target(r)
	if err != nil {
		return err
	}
	body, err := encodeBody(r.Body)
	if err != nil {
		return err
	}
	if c.timeout > 0 {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > c.timeout {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
			defer cancel()
		}
	}
	repeatable := r.Idempotent || r.Method == http.MethodGet || r.Method == http.MethodHead
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("phlo: %s %s: %w", r.Method, c.displayPath(r.Path), err)
		}
		start := time.Now()
		res := c.send(ctx, r.Method, target, body, out)
		if c.logger != nil {
			c.log(ctx, r, attempt, res, time.Since(start))
		}
		if res.err == nil {
			return nil
		}
		wait, retry := c.retry.next(ctx, attempt, res, repeatable)
		if !retry {
			return c.fail(r, attempt, res)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("phlo: %s %s: %w while waiting to retry: %w", r.Method, c.displayPath(r.Path), err, c.fail(r, attempt, res))
		}
	}
}

// target builds the request URL: each path segment escaped as one segment.
func (c *RestClient) target(r *Request) (string, error) {
	var q string
	switch v := r.Query.(type) {
	case nil:
	case url.Values:
		q = v.Encode()
	default:
		vals, err := query.Values(v)
		if err != nil {
			return "", invalidArgument("Request.Query", "cannot be encoded: %v", err)
		}
		q = vals.Encode()
	}
	n := len(c.base) + len(q) + 1
	for _, seg := range r.Path {
		n += len(seg) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(c.base)
	c.writePath(&b, r.Path, false)
	if q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String(), nil
}

// displayPath is the request path for errors and logs, with the auth ID
// hidden.
func (c *RestClient) displayPath(path []string) string {
	var b strings.Builder
	b.WriteString("/v1")
	c.writePath(&b, path, true)
	return b.String()
}

// writePath writes each segment escaped as one path segment, the auth ID as
// "{auth_id}" when hideAuthID is set.
func (c *RestClient) writePath(b *strings.Builder, path []string, hideAuthID bool) {
	for _, seg := range path {
		b.WriteByte('/')
		if hideAuthID && seg == c.creds.authID {
			b.WriteString("{auth_id}")
		} else {
			b.WriteString(url.PathEscape(seg))
		}
	}
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

// outcome is what one attempt came to.
type outcome struct {
	status     int    // 0 when no reply arrived
	apiID      string // from the reply, when it had one
	err        error  // nil on success
	unsent     bool   // the request provably never left: a dial failure
	broken     bool   // no whole reply arrived: a transport failure
	retryAfter time.Duration
}

// send makes one attempt. The body is read anew from body each time, so a
// retry sends the same bytes.
func (c *RestClient) send(ctx context.Context, method, target string, body []byte, out any) outcome {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return outcome{err: invalidArgument("Request", "cannot be built: %v", err), unsent: true}
	}
	req.Header["Authorization"] = c.creds.basicAuth
	req.Header["User-Agent"] = c.headers.userAgent
	req.Header["Accept"] = c.headers.json
	if body != nil {
		req.Header["Content-Type"] = c.headers.json
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return outcome{err: transportError(ctx, err), unsent: neverSent(err), broken: true}
	}
	defer resp.Body.Close()

	data, tooLarge, err := readBody(resp.Body, resp.ContentLength)
	res := outcome{status: resp.StatusCode}
	if v := resp.Header.Get("Retry-After"); v != "" {
		res.retryAfter = parseRetryAfter(v, time.Now())
	}
	if err != nil {
		res.err, res.broken = transportError(ctx, err), true
		return res
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := newAPIError(resp.StatusCode, data)
		res.apiID, res.err = e.APIID, e
		return res
	}
	if tooLarge {
		res.err = fmt.Errorf("%w: the %d reply is larger than %d bytes", ErrInvalidResponse, resp.StatusCode, MaxResponseBytes)
		return res
	}
	res.apiID, res.err = decodeSuccess(resp.StatusCode, data, out)
	return res
}

// readBody reads at most MaxResponseBytes, saying whether there was more.
// The buffer is sized from the Content-Length, when the server sent one, so
// that a small reply costs one small allocation.
func readBody(r io.Reader, contentLength int64) (data []byte, tooLarge bool, err error) {
	size := 512
	if contentLength >= 0 && contentLength < MaxResponseBytes {
		size = int(contentLength) + 1 // room to read EOF without growing
	}
	lr := io.LimitedReader{R: r, N: MaxResponseBytes + 1}
	data = make([]byte, 0, size)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, rerr := lr.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	if len(data) > MaxResponseBytes {
		return data[:MaxResponseBytes], true, err
	}
	return data, false, err
}

// envelope is implemented by the reply types that carry the API's api_id
// and error fields, so that one decode gives both.
type envelope interface {
	envelope() (apiID, errText string)
}

type bareEnvelope struct {
	APIID string `json:"api_id"`
	Error string `json:"error"`
}

func (e *bareEnvelope) envelope() (string, string) { return e.APIID, e.Error }

// decodeSuccess decodes a 2xx reply into out and turns a non-empty "error"
// field into an *APIError.
func decodeSuccess(status int, data []byte, out any) (apiID string, err error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		if out == nil {
			return "", nil
		}
		return "", fmt.Errorf("%w: the %d reply has an empty body", ErrInvalidResponse, status)
	}
	// Every reply of the runner is a JSON object; null, a list or a bare
	// value would decode into an empty result that looks like success.
	if trimmed[0] != '{' {
		return "", fmt.Errorf("%w: the %d reply is not a JSON object: %s", ErrInvalidResponse, status, sampleBody(data))
	}
	env, ok := out.(envelope)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return "", fmt.Errorf("%w: the %d reply cannot be decoded (%w): %s", ErrInvalidResponse, status, err, sampleBody(data))
		}
	}
	if !ok {
		var bare bareEnvelope
		if err := json.Unmarshal(data, &bare); err != nil && out == nil {
			return "", fmt.Errorf("%w: the %d reply cannot be decoded (%w): %s", ErrInvalidResponse, status, err, sampleBody(data))
		}
		env = &bare
	}
	apiID, text := env.envelope()
	if text != "" {
		return apiID, &APIError{StatusCode: status, APIID: apiID, Message: text, Body: data}
	}
	return apiID, nil
}

// newAPIError describes a non-2xx reply, whatever its body.
func newAPIError(status int, data []byte) *APIError {
	e := &APIError{StatusCode: status, Body: data}
	var bare bareEnvelope
	if json.Unmarshal(data, &bare) == nil {
		e.APIID, e.Message = bare.APIID, bare.Error
	} else {
		e.Message = sampleBody(data)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// transportError words a failure to get a reply. It drops the URL that
// net/http puts in its errors and wraps the context's error when the context
// ended, so errors.Is(err, context.Canceled) holds.
func transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return err
}

// neverSent reports whether err proves the request never left: the
// connection could not be made.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// fail dresses the last attempt's error with the request it belongs to.
func (c *RestClient) fail(r *Request, attempts int, res outcome) error {
	var apiErr *APIError
	if errors.As(res.err, &apiErr) {
		apiErr.Method, apiErr.Path, apiErr.Attempts = r.Method, c.displayPath(r.Path), attempts
		if res.retryAfter > 0 {
			apiErr.RetryAfter = res.retryAfter
		}
		return apiErr
	}
	var argErr *ArgumentError
	if errors.As(res.err, &argErr) {
		return argErr
	}
	return fmt.Errorf("phlo: %s %s: %w", r.Method, c.displayPath(r.Path), res.err)
}

func (c *RestClient) log(ctx context.Context, r *Request, attempt int, res outcome, d time.Duration) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", c.displayPath(r.Path)),
		slog.Int("status", res.status),
		slog.String("api_id", res.apiID),
		slog.Int("attempt", attempt),
		slog.Duration("duration", d),
	}
	if res.err != nil {
		attrs = append(attrs, slog.String("error", res.err.Error()))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "phlo request", attrs...)
}
