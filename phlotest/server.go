// Package phlotest provides a fake PHLO runner for tests, modelled on
// net/http/httptest: start it, point a client at it, close it.
//
//	srv := phlotest.Start(t) // closed by t.Cleanup
//	srv.AddMember("phlo-1", "node-1", "+14155550100", phlo.RoleCustomer)
//	client := srv.Client()
//	_, err := client.Phlo("phlo-1").MultiPartyCall("node-1").Member("+14155550100").Hold(ctx)
//	state, _ := srv.Member("phlo-1", "node-1", "+14155550100") // state.OnHold == true
//
// The server listens on loopback, answers every endpoint of the PHLO runner
// API on the wire as the real runner does, and checks what the real runner
// checks: basic auth (401), the method (405), a JSON body (400), a known
// action and its mandatory parameters (400, with the runner's error texts
// such as "to is a mandatory param."), and the PHLO, node and member named
// in the path (404). Every error body is {"api_id": ..., "error": ...}.
// Like the real runner it accepts paths with or without a trailing slash,
// ignores query parameters on GETs, takes a member action given as
// "?action=hold" with a "{}" body, and takes a run with no payload whether
// the body is empty, {}, "" or null.
//
// # The call model
//
// A multi-party call node holds members, each with an address, a role, a
// hold flag and, for an agent who started a warm transfer, the address being
// transferred to. Where the real runner's answer is not documented, the fake
// chooses as follows:
//
//   - call adds the member "to" with its role (agent when none is given).
//     The trigger_source must be a member of the call (400 "trigger_source is
//     not a member of the call."), and "to" must not be one already (400 "to
//     is already a member of the call.").
//   - hold and unhold set the hold flag. Holding a held member, or unholding
//     one who is not held, succeeds and changes nothing.
//   - hangup removes the member. A warm transfer towards them is cancelled.
//   - warm_transfer adds "to" and marks the trigger_source as transferring to
//     them; a member can have one transfer in progress (400 "a transfer is
//     already in progress."). resume_call, sent for the initiating member,
//     completes it: the initiator is back in the call and "to" stays.
//     abort_transfer, sent for the initiating member, cancels it: "to" is
//     removed. Either one without a transfer in progress is 400 "no transfer
//     is in progress.".
//   - cold_transfer adds "to" and removes the trigger_source at once, so
//     there is nothing left to resume or abort.
//   - voicemail_drop leaves the voicemail and the member leaves the call.
//   - Any member action on an address that is not in the call, whether it
//     never was or has left, is 404 "member not found.".
//   - Running a PHLO records a run that GET /v1/phlo/{id}/runs/{run_id}
//     returns; a run started for a PHLO the server does not know is 404.
//     The auth ID in the run path must be the server's own (404 otherwise).
//     The newest 1,000 runs are kept; an older one is 404.
//
// # The conference bridge
//
// A conference bridge node holds members, each with an address and a mute
// flag. The public API reference has no page for it; Plivo's Python and PHP
// SDKs are the source of its wire: GET /v1/phlo/{phlo_id}/conference_bridge/{node_id}
// reads the node (node_type "conference_bridge"), and POST
// .../conference_bridge/{node_id}/members/{address} with {"action": "mute"},
// "unmute" or "hangup" acts on a member. Where the runner's answer is not
// known, the fake chooses as follows:
//
//   - mute and unmute set the mute flag: muting a muted member, or unmuting
//     one who is not muted, succeeds and changes nothing.
//   - hangup removes the member.
//   - A member action on an address that is not in the bridge is 404 "member
//     not found.", and an action other than these three is 400 "Invalid
//     value provided for action.".
//   - A multi-party call's path naming a bridge node, or a bridge's path
//     naming a multi-party call node, is 404 "node not found.": no node of
//     that type exists.
//   - A POST to the bridge node itself is 405: no action on a whole bridge
//     is known.
//
// # Faults
//
// Inject queues faults that requests meet instead of the normal answer, in
// order: a status with any body and Retry-After, a delay, a dropped
// connection, a body cut short, a body that never comes. A fault with
// Method, Action, PathPrefix or Match is met only by the requests it
// matches. A fault with Apply lets the request act first, so that a test
// sees the runner act while the client learns nothing of it.
//
// # The control API
//
// Every server also answers a control API under /__phlo/ on the same
// listener, so that a test in any language, or a Go test through
// [Connect], can steer a fake it does not share a process with. JSON in and
// out; every path but GET /__phlo/health takes the server's credentials by
// basic auth (401 with WWW-Authenticate: Basic realm="phlo" without them).
// GET /__phlo/openapi.json describes it, and the runner API as served, in
// OpenAPI 3.
//
//	GET    /__phlo/health                  {"status":"ok"}, no credentials needed
//	GET    /__phlo/state                   the whole model: [State] as JSON
//	PUT    /__phlo/phlo/{phlo_id}          {"name"}: make or rename, as in state
//	PUT    /__phlo/phlo/{phlo_id}/multi_party_call/{node_id}    {"name"}
//	PUT    /__phlo/phlo/{phlo_id}/conference_bridge/{node_id}   {"name"}
//	PUT    .../multi_party_call/{node_id}/members/{address}     {"role"}: add (agent), or set the role
//	PUT    .../conference_bridge/{node_id}/members/{address}    {}: add
//	GET    any of those paths              as in state, or 404
//	DELETE any of those paths              204: gone (a member as if they hung up)
//	GET    /__phlo/requests[?action=hold]  the journal: {"method","path","query","action","body","status"}
//	DELETE /__phlo/requests                empty it
//	POST   /__phlo/faults                  queue a fault, 201 with it as GET lists it
//	GET    /__phlo/faults                  the pending faults, times the uses left
//	DELETE /__phlo/faults                  clear them
//	POST   /__phlo/reset                   204: Reset
//	GET    /__phlo/                        a live dashboard of the model
//
// PUT creates the PHLO and node as needed. A fault's JSON is
// {"status","times","body","header":{"Name":"value"},"retry_after","delay_ms",
// "drop","truncate","stall","apply","method","action","path_prefix"}, with
// the meaning of [Fault] (retry_after in whole seconds; a Go test's Match has
// no JSON form and is not shown). Bad input changes nothing: 400 {"error"}
// naming the field (an unknown JSON field, an unknown role, negative times,
// a status outside 100–599), 404 for an unknown path, 405 with Allow, 409
// naming the cap a request would pass (MaxFaults pending faults among
// them), 413 for a body past MaxControlBody (64 KiB). Control requests are
// not journaled, logged, or met by faults.
//
// # Bounds
//
// However long it runs and whatever clients send, the server's memory is
// bounded. A request is checked for its credentials and size before
// anything of it is kept; headers past MaxHeaderBytes (64 KiB) are refused.
// The journal keeps the newest MaxRequests (10,000) requests within
// MaxRecordedBytes (32 MiB), each cut as [Request] says; the newest
// MaxRuns (1,000) runs within MaxRunBytes (8 MiB) are kept. The model is
// capped (MaxPhlos and the constants beside it): a call or transfer past a
// cap is refused with 409. A connection that sends half a request is cut
// off within 10 seconds, and one whose client reads nothing within
// WriteTimeout (60 seconds) of its request.
package phlotest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phlogo/phlo"
)

// Bounds of the server's connections.
const (
	// MaxHeaderBytes bounds a request's headers, request line included:
	// a request with more is refused with 431 before anything of it is
	// kept.
	MaxHeaderBytes = 64 << 10
	// WriteTimeout bounds the time from a request's headers to the end of
	// its reply: a client that reads nothing is cut off then.
	WriteTimeout = 60 * time.Second
)

// Server is a fake PHLO runner listening on a loopback address. It is safe
// for concurrent use.
type Server struct {
	// URL is the base URL of the server, "http://127.0.0.1:port", for
	// phlo.WithBaseURL.
	URL string
	// AuthID and AuthToken are the credentials the server accepts, fixed
	// when it is made (WithCredentials): the server reads its own copy, so
	// changing these fields changes nothing it does.
	AuthID, AuthToken string

	authID, authToken string
	start             State       // what Reset returns to
	requestLog        *lineWriter // nil without WithRequestLog
	writeTimeout      time.Duration

	srv       *httptest.Server
	transport *http.Transport // the clients' own, closed with the server
	client    *phlo.RestClient
	closed    chan struct{}
	bigReply  chan struct{} // held while a big control reply is written
	closeOnce sync.Once

	mu          sync.Mutex
	phlos       map[string]*phloModel
	memberCount int   // members in every node
	runs        []Run // the newest within MaxRuns and MaxRunBytes, oldest first
	runBytes    int
	journal     journal
	faults      []Fault
}

// config is what the options set.
type config struct {
	authID, authToken string
	state             State
	requestLog        io.Writer
	writeTimeout      time.Duration
}

// Option configures a Server. An option given a value it cannot take
// makes the server fail to start: Start fails the test, Listen returns the
// error and NewServer panics, saying which option and why.
type Option func(*config) error

// WithCredentials makes the server accept authID and authToken instead of
// credentials it generates; an empty one is generated. Credentials the SDK
// refuses (an auth ID with a colon, say) are an error.
func WithCredentials(authID, authToken string) Option {
	return func(c *config) error {
		c.authID, c.authToken = cmp.Or(authID, c.authID), cmp.Or(authToken, c.authToken)
		return nil
	}
}

// WithState makes st the server's start state, the one Reset returns to,
// instead of an empty one. A state the server could not have reached is an
// error naming the field, such as
// phlos[0].multi_party_calls[1].members[2].role: unknown role "boss".
func WithState(st State) Option {
	return func(c *config) error {
		if err := st.validate(); err != nil {
			return fmt.Errorf("WithState: %w", err)
		}
		c.state = st.clone()
		return nil
	}
}

// WithRequestLog writes one line to w for every runner request, refused
// ones included (control requests are not logged): its method, escaped
// path, action, status and duration, each cut to a bound so that no line
// exceeds a few hundred bytes. Lines are written whole, one at a time.
func WithRequestLog(w io.Writer) Option {
	return func(c *config) error {
		if w == nil {
			return errors.New("WithRequestLog: the writer is nil")
		}
		c.requestLog = w
		return nil
	}
}

// NewServer starts a server on 127.0.0.1 at a random port. Close it when
// done. It panics if an option is invalid, as httptest.NewServer does when
// it cannot listen.
func NewServer(opts ...Option) *Server {
	s, err := newServer(opts)
	if err != nil {
		panic(err)
	}
	s.startServing(httptest.NewUnstartedServer(s))
	return s
}

// Start is NewServer for a test: it registers Close with tb.Cleanup, and
// fails the test at once if an option is invalid.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := newServer(opts)
	if err != nil {
		tb.Fatal(err)
		return nil // only a tb whose Fatal returns gets here
	}
	s.startServing(httptest.NewUnstartedServer(s))
	tb.Cleanup(s.Close)
	return s
}

// Listen starts a server on addr, such as "127.0.0.1:8089", for programs
// that talk to it from outside the process. An address with no host, such
// as ":8089", or an unspecified one, such as "0.0.0.0:8089", listens on
// every interface, as a container serving other containers must; URL then
// names 127.0.0.1, and other hosts use this host's name with
// phlo.WithInsecureHTTP. It returns the error of an invalid option before
// it listens.
func Listen(addr string, opts ...Option) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := httptest.NewUnstartedServer(s)
	hs.Listener.Close()
	hs.Listener = ln
	s.startServing(hs)
	return s, nil
}

// LoopbackOnly reports whether the server accepts connections from this
// machine only.
func (s *Server) LoopbackOnly() bool {
	host, _, err := net.SplitHostPort(s.srv.Listener.Addr().String())
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// newServer applies opts and loads the start state.
func newServer(opts []Option) (*Server, error) {
	c := config{
		authID:       "MA" + randomString(18, upperAlnum),
		authToken:    randomString(40, mixedAlnum),
		writeTimeout: WriteTimeout,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&c); err != nil {
			return nil, fmt.Errorf("phlotest: %w", err)
		}
	}
	// Generated credentials always make a client; given ones may not.
	if _, err := phlo.NewRestClient(c.authID, c.authToken, phlo.WithBaseURL("http://127.0.0.1")); err != nil {
		return nil, fmt.Errorf("phlotest: WithCredentials: %w", err)
	}
	s := &Server{
		AuthID:    c.authID,
		AuthToken: c.authToken,
		authID:    c.authID,
		authToken: c.authToken,
		start:     c.state,
		closed:    make(chan struct{}),
		bigReply:  make(chan struct{}, 1),
		transport: phlo.NewTransport(),
	}
	if c.requestLog != nil {
		s.requestLog = &lineWriter{w: c.requestLog}
	}
	s.load(s.start)
	s.writeTimeout = c.writeTimeout
	return s, nil
}

// startServing starts hs with bounds that cut off a half-sent request, a client
// that reads nothing, and headers past MaxHeaderBytes, and makes the
// server's client. The idle timeout is longer than the SDK's, so that a
// client never sends on a connection the server is closing.
func (s *Server) startServing(hs *httptest.Server) {
	hs.Config.ReadHeaderTimeout = 5 * time.Second
	hs.Config.ReadTimeout = 10 * time.Second
	hs.Config.WriteTimeout = s.writeTimeout
	hs.Config.IdleTimeout = 2 * time.Minute
	// net/http allows 4 KiB more than MaxHeaderBytes says.
	hs.Config.MaxHeaderBytes = MaxHeaderBytes - 4<<10
	hs.Start()
	s.srv, s.URL = hs, hs.URL
	host, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		// Every interface, 127.0.0.1 included: name the one that works here.
		s.URL = "http://" + net.JoinHostPort("127.0.0.1", port)
	}
	s.client, _ = s.NewClient() // the credentials were checked: it cannot fail
}

// Close ends every request in progress, including those held by a fault,
// closes the connections of the server's clients, and shuts the server
// down. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
		s.transport.CloseIdleConnections()
	})
}

// Reset returns the server to its start state (WithState, else empty),
// and forgets the requests received and the faults pending.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load(s.start)
	s.journal = journal{}
	s.faults = nil
}

// Client returns a client pointed at the server with its credentials, made
// when the server started: the same client on every call, as
// httptest.Server.Client returns. It sends through a transport of the
// server's own, so that it reaches the fake even when a test has replaced
// http.DefaultTransport (httpmock.Activate); Close closes its connections.
// It retries as NewClient's do.
func (s *Server) Client() *phlo.RestClient { return s.client }

// NewClient returns a new client pointed at the server with its
// credentials, sending through the server's transport, with opts applied
// after that; it returns the error of an invalid option.
//
// Its retry policy is [FastRetryPolicy] unless opts hold
// phlo.WithRetryPolicy: the SDK's rules for what is retried, with waits
// of milliseconds, so that a test of a retried failure is fast.
func (s *Server) NewClient(opts ...phlo.Option) (*phlo.RestClient, error) {
	all := append([]phlo.Option{
		phlo.WithBaseURL(s.URL),
		phlo.WithInsecureHTTP(), // a fake's credentials, on a network of the test's own
		phlo.WithHTTPClient(&http.Client{Transport: s.transport}),
		phlo.WithRetryPolicy(FastRetryPolicy()),
	}, opts...)
	return phlo.NewRestClient(s.authID, s.authToken, all...)
}

// FastRetryPolicy is phlo.DefaultRetryPolicy with its shortest wait cut
// to a millisecond: as many retries, of the same requests, with waits of
// one or two milliseconds between them. A Retry-After the server sends is
// still waited for, within the default policy's MaxDelay.
func FastRetryPolicy() phlo.RetryPolicy {
	p := phlo.DefaultRetryPolicy()
	p.MinDelay = time.Millisecond
	return p
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	mixedAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// newID returns a random UUID, the form of the runner's IDs.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:]}, "-")
}
