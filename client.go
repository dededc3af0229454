// Package phlo is a client for Plivo's PHLO runner API, built around the
// multi-party call node: put a member on hold, take them off, hang up,
// transfer, drop a voicemail, and get or run a PHLO; and the conference
// bridge node: mute, unmute and hang up its members.
//
// Build one [*RestClient] with [NewRestClient] and share it; reach a resource
// through handles that cost no I/O, then act on it with a context:
//
//	client, err := phlo.NewRestClient("", "") // PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN
//	if err != nil { ... }
//	member := client.Phlo(phloID).MultiPartyCall(nodeID).Member("+14155550100")
//	resp, err := member.Hold(ctx)
//
// Holding a member is one request, and it reaches the runner at most once
// per attempt: neither the SDK nor net/http below it sends a request again
// unless the retry policy says it may. Every failure is an error to inspect
// with [errors.As] ([*APIError], [*ArgumentError]) and [errors.Is]
// ([ErrNotFound] and the other sentinels, [context.Canceled],
// [context.DeadlineExceeded]), and says whether the runner may have acted:
// [ErrNotSent], [ErrOutcomeUnknown], or an [*APIError] whose status says it
// did not. No
// error, log record or printed value shows a credential, whatever a server
// sends back.
//
// # Transfers, hold and presence
//
// The SDK never holds or unholds a member on its own. As Plivo documents
// them, [Member.Hold] mutes the member while the others hear hold music;
// [MultiPartyCall.WarmTransfer] lets the initiating agent (TriggerSource)
// and To talk privately before the member they were talking to joins them,
// and Plivo does not say whether that member is held meanwhile;
// [Member.ResumeCall], on the initiator's handle, brings the initiator back
// into the original call; [Member.AbortTransfer] cancels the transfer;
// [MultiPartyCall.ColdTransfer] connects the member to To directly and the
// initiator leaves the call. The fake runner in package phlotest changes no
// hold flag on any transfer, resume or abort: a service that wants the
// customer on hold during a warm transfer holds them first and unholds
// them afterwards, and, when the transfer fails, unholds them at once with
// a context of its own, which outlives the call's:
//
//	if _, err := call.WarmTransfer(ctx, p); err != nil {
//		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
//		defer cancel()
//		customer.Unhold(uctx)
//		return err
//	}
//
// # Logs and personal data
//
// [WithLogger] writes one record at Warn for each call that failed, and
// Debug records for each attempt and each wait; every record names the
// action, the kind of node and the runner's host. Errors name the host too
// whenever it is not [DefaultBaseURL]. [WithMaskedAddresses] hides members'
// phone numbers and SIP addresses in errors and records.
//
// Package [github.com/phlogo/phlo/phlotest] provides a fake runner for tests
// that need no network, and package [github.com/phlogo/phlo/callback]
// verifies the signed requests Plivo sends back.
package phlo

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Version is the SDK's version, sent in the User-Agent header.
const Version = "0.2.0"

// DefaultBaseURL is the PHLO runner's address.
const DefaultBaseURL = "https://phlorunner.plivo.com"

// DefaultTimeout bounds a whole call, retries included, unless [WithTimeout]
// says otherwise.
const DefaultTimeout = 30 * time.Second

// MaxResponseBytes is the most of a reply body the SDK reads. A successful
// reply larger than this is an error; an error reply is cut at this length.
const MaxResponseBytes = 1 << 20

// Environment variables read when [NewRestClient] is given empty credentials.
const (
	EnvAuthID    = "PLIVO_AUTH_ID"
	EnvAuthToken = "PLIVO_AUTH_TOKEN"
)

// EnvBaseURL names the runner's base URL, such as a "phlo serve" fake in
// another container, for a client built without [WithBaseURL]. WithBaseURL
// wins over it.
const EnvBaseURL = "PHLO_BASE_URL"

var sdkAgent = "phlo-go/" + Version + " (" + runtime.Version() + "; " + runtime.GOOS + "/" + runtime.GOARCH + ")"

// RestClient talks to the PHLO runner. It is safe for concurrent use by many
// goroutines; build one and share it.
//
// Printing a RestClient, or a value that holds one, with any fmt verb or
// through slog never shows its credentials.
type RestClient struct {
	// creds is reached through a function because fmt prints what it finds
	// behind pointers, interfaces and slices when it prints a struct that
	// holds a RestClient, but shows a function only as an address.
	creds   func() *credentials
	headers requestHeaders
	base    *url.URL // scheme://host[/prefix]/v1, no trailing slash
	// client is the caller's WithHTTPClient, read at each request so that
	// changes made to it after NewRestClient (httpmock.ActivateNonDefault)
	// take effect; nil sends through currentTransport.
	client  *http.Client
	timeout time.Duration
	// timeoutCause ends a call's context when timeout runs out.
	timeoutCause error
	retry        RetryPolicy
	logger       *slog.Logger
	// masked says to mask members' addresses (WithMaskedAddresses).
	masked bool
	// origin is scheme://host[/prefix] of a runner other than Plivo's, for
	// errors to name; empty for DefaultBaseURL.
	origin string
}

type credentials struct {
	authID string
	// basicAuth is the Authorization header value, shared read-only by
	// every request.
	basicAuth []string
	// redactor replaces the token, the basic auth value and the proxy's
	// credentials in whatever a server sends back before it reaches an
	// error or a log record.
	redactor *redactor
}

// requestHeaders are built once per client; each request gets its own map
// holding these shared, read-only values.
type requestHeaders struct {
	userAgent, json []string
}

// Option configures a [RestClient]. Options that are given bad values make
// [NewRestClient] return an error.
type Option func(*settings) error

type settings struct {
	baseURL      string // empty: EnvBaseURL, else DefaultBaseURL
	insecureHTTP bool
	client       *http.Client
	userAgent    string
	timeout      time.Duration
	retry        RetryPolicy
	logger       *slog.Logger
	masked       bool
}

// WithBaseURL points the client at another runner, such as a
// [github.com/phlogo/phlo/phlotest.Server]. The URL must be https, or http
// to a loopback host (127.0.0.0/8, ::1, localhost): basic auth is never sent
// in clear over a network, unless [WithInsecureHTTP] says so. A path prefix
// is kept; "/v1" is added after it. Without WithBaseURL, [NewRestClient]
// reads PHLO_BASE_URL ([EnvBaseURL]), else uses [DefaultBaseURL].
func WithBaseURL(rawURL string) Option {
	return func(s *settings) error {
		if rawURL == "" {
			return invalidArgument("WithBaseURL", "must not be empty")
		}
		s.baseURL = rawURL
		return nil
	}
}

// WithInsecureHTTP allows an http:// base URL to any host, not only
// loopback: for a fake runner in another container, such as "phlo serve"
// beside a service in docker compose or a Kubernetes pod. Basic auth then
// crosses that network in clear. It is never the default.
func WithInsecureHTTP() Option {
	return func(s *settings) error {
		s.insecureHTTP = true
		return nil
	}
}

// WithHTTPClient makes the client send through c, as c stands at each
// request: a change to c after [NewRestClient], such as
// httpmock.ActivateNonDefault(c), takes effect. Redirects are never
// followed, whatever c's CheckRedirect says, and c itself is not changed.
// c's Timeout, if any, applies to each attempt; [WithTimeout] bounds the
// whole call.
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
// [DefaultTimeout]. Zero means no bound beyond the context's own. A context
// deadline that comes sooner still wins. A call it ends returns an error
// that matches [context.DeadlineExceeded] and says that this bound ran out.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d < 0 {
			return invalidArgument("WithTimeout", "must not be negative")
		}
		s.timeout = d
		return nil
	}
}

// WithLogger makes the client write to l. A call that fails after at
// least one attempt, for any reason but the caller's own context ending,
// writes one record at Warn, "phlo call failed" (status, api_id, attempts,
// duration, error), so that a service logging at Info sees it. At Debug,
// each attempt writes "phlo request" (status, api_id, attempt, duration,
// error) and each wait before a retry "phlo retry" (wait, attempt,
// reason). A call that succeeds writes nothing above Debug. Every record
// starts with action (hold, unhold, call, run, get, get_run, ...; "do" for
// [RestClient.Do]), node_kind (multi_party_call, conference_bridge, empty
// for a PHLO), host (the runner's host[:port]), method and path.
//
// Records never carry a credential; a path segment equal to the auth ID
// reads "{auth_id}". See [WithMaskedAddresses] for members' addresses.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		s.logger = l
		return nil
	}
}

// WithMaskedAddresses hides members' phone numbers and SIP addresses, which
// are personal data, in errors (APIError.Path, Message, APIID and Body
// included) and log records: the address of the member acted on, and the
// To and TriggerSource of a call or transfer, show every character but the
// last four as '*', so "+14155550100" reads "********0100". They are masked
// wherever the server's words repeat them as they were sent, and where a
// cut to length leaves the start of one. What is sent is unchanged, and so
// are the IDs of PHLOs, nodes and runs, and the api_id.
func WithMaskedAddresses() Option {
	return func(s *settings) error {
		s.masked = true
		return nil
	}
}

// NewRestClient returns a client that authenticates with authID and
// authToken. An empty authID or authToken is read from PLIVO_AUTH_ID or
// PLIVO_AUTH_TOKEN ([EnvAuthID], [EnvAuthToken]); if it is still empty the
// error matches [ErrMissingCredentials]. Building a client starts no
// goroutine and opens no connection.
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

	s := settings{timeout: DefaultTimeout, retry: DefaultRetryPolicy()}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	source := "WithBaseURL"
	if s.baseURL == "" {
		source, s.baseURL = EnvBaseURL, os.Getenv(EnvBaseURL)
		if s.baseURL == "" {
			source, s.baseURL = "DefaultBaseURL", DefaultBaseURL
		}
	}
	base, err := parseBaseURL(source, s.baseURL, s.insecureHTTP)
	if err != nil {
		return nil, err
	}

	agent := sdkAgent
	if s.userAgent != "" {
		agent = s.userAgent + " " + sdkAgent
	}
	creds := newCredentials(authID, authToken)
	c := &RestClient{
		creds: func() *credentials { return creds },
		headers: requestHeaders{
			userAgent: []string{agent},
			json:      []string{"application/json"},
		},
		base:    base,
		client:  s.client,
		timeout: s.timeout,
		retry:   s.retry,
		logger:  s.logger,
		masked:  s.masked,
	}
	if base.String() != DefaultBaseURL+"/v1" {
		c.origin = strings.TrimSuffix(base.String(), "/v1")
	}
	if s.timeout > 0 {
		c.timeoutCause = timeoutError{s.timeout}
	}
	return c, nil
}

func newCredentials(authID, authToken string) *credentials {
	basic := base64.StdEncoding.EncodeToString([]byte(authID + ":" + authToken))
	return &credentials{
		authID:    authID,
		basicAuth: []string{"Basic " + basic},
		redactor:  newRedactor(authID, authToken, basic),
	}
}

// parseBaseURL checks rawURL, which came from source, and returns it with
// "/v1" appended.
func parseBaseURL(source, rawURL string, insecureHTTP bool) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, invalidArgument(source, "is not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, invalidArgument(source, "must use https (or http to a loopback host)")
	case u.Host == "" || u.Opaque != "":
		return nil, invalidArgument(source, "must name a host")
	case u.User != nil:
		return nil, invalidArgument(source, "must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, invalidArgument(source, "must not have a query or fragment")
	case u.Scheme == "http" && !insecureHTTP && !isLoopback(u.Hostname()):
		return nil, invalidArgument(source, "must use https unless the host is loopback, since basic auth would cross the network in clear; "+
			"for a fake runner on another host, such as phlo serve in another container, add phlo.WithInsecureHTTP()")
	}
	base := &url.URL{Scheme: u.Scheme, Host: u.Host}
	base.Path = strings.TrimRight(u.Path, "/") + "/v1"
	base.RawPath = strings.TrimRight(u.EscapedPath(), "/") + "/v1"
	// Every request URL is this one with segments added; one that does not
	// read back as itself would fail every request.
	if back, err := url.Parse(base.String()); err != nil || back.Host != base.Host || back.EscapedPath() != base.EscapedPath() {
		return nil, invalidArgument(source, "cannot form a request URL")
	}
	return base, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewTransport returns a new transport with the SDK's settings: proxies from
// the environment, HTTP/2 when the server offers it, TLS 1.2 or later, reply
// headers capped at 64 KiB, and a pool of 128 connections per host that
// requests wait for rather than opening more, so that a busy service never
// pays a handshake per request. Idle connections are closed after 50 s. Its
// connections count the bytes written on them, which tells an HTTP/1.1
// request that never went out (an [ErrNotSent] the SDK sends again) from
// one that may have arrived, where net/http's error does not. Wrap it to
// trace requests without losing the pool:
//
//	hc := &http.Client{Transport: otelhttp.NewTransport(phlo.NewTransport())}
//	client, err := phlo.NewRestClient(id, token, phlo.WithHTTPClient(hc))
func NewTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            countWrites(dialer.DialContext),
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    maxConnsPerHost,
		MaxConnsPerHost:        maxConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
}

const (
	// idleConnTimeout closes an idle connection before the 60 s after
	// which common load balancers (AWS's, by default) drop it without a
	// word: a pooled connection is then rarely dead under a request, and
	// when it is, the request fails before it is written and goes out again
	// on a fresh one.
	idleConnTimeout = 50 * time.Second
	// maxConnsPerHost bounds both the open and the idle connections, so
	// that a burst beyond it waits for a connection instead of opening one
	// that the idle pool would close again.
	maxConnsPerHost        = 128
	maxResponseHeaderBytes = 64 << 10
)

// sharedTransport is the pool every client without WithHTTPClient shares, as
// clients of http.DefaultClient share http.DefaultTransport: a thousand
// clients, one per tenant, cost no more connections than their concurrency.
// It is made at the first request.
var sharedTransport = sync.OnceValue(NewTransport)

// stdTransport is http.DefaultTransport as the standard library made it,
// to tell whether the program has replaced it since.
var stdTransport, _ = http.DefaultTransport.(*http.Transport)

// currentTransport is the transport of a client built without
// WithHTTPClient: http.DefaultTransport when the program has replaced it
// (httpmock.Activate, a tracing wrapper), whether before or after the client
// was built, and otherwise sharedTransport.
func currentTransport() http.RoundTripper {
	rt := http.DefaultTransport
	if t, ok := rt.(*http.Transport); ok && t == stdTransport {
		return sharedTransport()
	}
	if rt == nil {
		return sharedTransport()
	}
	// A nil pointer would panic when called: it is no replacement.
	if v := reflect.ValueOf(rt); v.Kind() == reflect.Pointer && v.IsNil() {
		return sharedTransport()
	}
	return rt
}

// roundTrip sends one attempt and never follows a redirect, so that
// credentials never reach a host the caller did not name. A client built
// without WithHTTPClient calls its transport itself, since an http.Client
// would copy the headers and URL of every request to follow redirects that
// the SDK never follows.
func (c *RestClient) roundTrip(req *http.Request) (*http.Response, error) {
	if c.client != nil {
		hc := *c.client // as it stands now: httpmock.ActivateNonDefault may have changed it
		hc.CheckRedirect = stopRedirects
		return hc.Do(req)
	}
	rt := currentTransport()
	resp, err := rt.RoundTrip(req)
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	case resp == nil:
		return nil, fmt.Errorf("http: RoundTripper implementation (%T) returned a nil *Response with a nil error", rt)
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

func stopRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// CloseIdleConnections closes idle keep-alive connections. A client built
// with [WithHTTPClient] closes those of its own [http.Client]. Every other
// client shares one pool (or sends through a replaced
// [http.DefaultTransport]), and closes that pool's idle connections, which
// other clients would otherwise have reused: there is no need to call it
// when a client is dropped, since it holds no connection of its own.
func (c *RestClient) CloseIdleConnections() {
	switch {
	case c == nil || c.creds == nil:
	case c.client != nil:
		c.client.CloseIdleConnections()
	default:
		type closeIdler interface{ CloseIdleConnections() }
		if t, ok := currentTransport().(closeIdler); ok {
			t.CloseIdleConnections()
		}
	}
}

// AuthID returns the auth ID the client authenticates with, or "" for a nil
// or zero client. The auth token cannot be read back.
func (c *RestClient) AuthID() string {
	if c == nil || c.creds == nil {
		return ""
	}
	return c.creds().authID
}

// BaseURL returns the address requests are sent to, with "/v1" appended, or
// "" for a nil or zero client.
func (c *RestClient) BaseURL() string {
	if c == nil || c.base == nil {
		return ""
	}
	return c.base.String()
}

// Format prints the client without its credentials, for every verb.
func (c *RestClient) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "phlo.RestClient{BaseURL: %q, AuthID: %q}", c.BaseURL(), redacted)
}

// LogValue keeps credentials out of slog records.
func (c *RestClient) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.BaseURL()), slog.String("auth_id", redacted))
}
