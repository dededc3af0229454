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
// connection, a body cut short, a body that never comes. A fault with Match
// is met only by the requests it matches.
//
// # Bounds
//
// However long it runs, the server's memory is bounded: it keeps the newest
// 10,000 requests, with bodies cut at 64 KiB, and the newest 1,000 runs. A
// connection that sends half a request is cut off within 10 seconds.
package phlotest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phlogo/phlo"
)

// Bounds of what the server keeps.
const (
	// MaxRequests is how many requests Requests keeps, the newest.
	MaxRequests = 10_000
	// MaxRecordedBody is how much of a request body Requests keeps.
	MaxRecordedBody = 64 << 10
	// MaxRuns is how many runs the server keeps, the newest.
	MaxRuns = 1_000
)

// Server is a fake PHLO runner listening on a loopback address. It is safe
// for concurrent use.
type Server struct {
	// URL is the base URL of the server, "http://127.0.0.1:port", for
	// phlo.WithBaseURL.
	URL string
	// AuthID and AuthToken are the credentials the server accepts.
	AuthID, AuthToken string

	srv       *httptest.Server
	transport *http.Transport // the clients' own, closed with the server
	client    *phlo.RestClient
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	phlos    map[string]*phloState
	runs     []Run // the newest MaxRuns, oldest first
	requests requestLog
	faults   []Fault
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials makes the server accept authID and authToken instead of
// credentials it generates.
func WithCredentials(authID, authToken string) Option {
	return func(s *Server) {
		if authID != "" {
			s.AuthID = authID
		}
		if authToken != "" {
			s.AuthToken = authToken
		}
	}
}

// NewServer starts a server on 127.0.0.1 at a random port. Close it when
// done.
func NewServer(opts ...Option) *Server {
	s := newServer(opts)
	s.start(httptest.NewUnstartedServer(s))
	return s
}

// Start is NewServer for a test: it registers Close with tb.Cleanup, and
// fails the test at once if the server's credentials cannot make a client.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := NewServer(opts...)
	tb.Cleanup(s.Close)
	if s.client == nil {
		_, err := s.NewClient()
		tb.Fatalf("phlotest: the server's credentials make no client: %v", err)
	}
	return s
}

// Listen starts a server on addr, such as "127.0.0.1:8089", for programs
// that talk to it from outside the process. An address with no host, such
// as ":8089", or an unspecified one, such as "0.0.0.0:8089", listens on
// every interface, as a container serving other containers must; URL then
// names 127.0.0.1, and other hosts use this host's name with
// phlo.WithInsecureHTTP.
func Listen(addr string, opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newServer(opts)
	hs := httptest.NewUnstartedServer(s)
	hs.Listener.Close()
	hs.Listener = ln
	s.start(hs)
	return s, nil
}

// LoopbackOnly reports whether the server accepts connections from this
// machine only.
func (s *Server) LoopbackOnly() bool {
	host, _, err := net.SplitHostPort(s.srv.Listener.Addr().String())
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

func newServer(opts []Option) *Server {
	s := &Server{
		AuthID:    "MA" + randomString(18, upperAlnum),
		AuthToken: randomString(40, mixedAlnum),
		closed:    make(chan struct{}),
		phlos:     make(map[string]*phloState),
		transport: phlo.NewTransport(),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	return s
}

// start serves with timeouts that cut off a half-sent request, and makes the
// server's client. The idle timeout is longer than the SDK's, so that a
// client never sends on a connection the server is closing.
func (s *Server) start(hs *httptest.Server) {
	hs.Config.ReadHeaderTimeout = 5 * time.Second
	hs.Config.ReadTimeout = 10 * time.Second
	hs.Config.IdleTimeout = 2 * time.Minute
	hs.Start()
	s.srv, s.URL = hs, hs.URL
	host, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		// Every interface, 127.0.0.1 included: name the one that works here.
		s.URL = "http://" + net.JoinHostPort("127.0.0.1", port)
	}
	s.client, _ = s.NewClient()
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

// Client returns a client pointed at the server with its credentials, made
// when the server started: the same client on every call, as
// httptest.Server.Client returns. It is nil when WithCredentials gave an
// auth ID the SDK refuses; NewClient says why. It sends through a transport of the
// server's own, so that it reaches the fake even when a test has replaced
// http.DefaultTransport (httpmock.Activate); Close closes its connections.
func (s *Server) Client() *phlo.RestClient { return s.client }

// NewClient returns a new client pointed at the server with its
// credentials, sending through the server's transport, with opts applied
// after that; it returns the error of an invalid option.
func (s *Server) NewClient(opts ...phlo.Option) (*phlo.RestClient, error) {
	all := append([]phlo.Option{
		phlo.WithBaseURL(s.URL),
		phlo.WithInsecureHTTP(), // a fake's credentials, on a network of the test's own
		phlo.WithHTTPClient(&http.Client{Transport: s.transport}),
	}, opts...)
	return phlo.NewRestClient(s.AuthID, s.AuthToken, all...)
}

// Request is one request as the server received it.
type Request struct {
	// Method is the request's method.
	Method string
	// Path is the path exactly as sent on the wire, escaped.
	Path string
	// RawQuery is the query string, without '?'.
	RawQuery string
	// Header holds the request's headers.
	Header http.Header
	// Body is the request body, cut at MaxRecordedBody (64 KiB).
	Body []byte
	// Action is what the request asks: the action of a call or member
	// action ("hold", "call", ...), "run" for a PHLO run, and empty for a
	// GET or a request the server cannot read.
	Action string
}

// requestLog keeps the newest MaxRequests requests in a ring.
type requestLog struct {
	ring []Request
	next int // where the next request goes once the ring is full
}

func (l *requestLog) add(r Request) {
	if len(l.ring) < MaxRequests {
		l.ring = append(l.ring, r)
		return
	}
	l.ring[l.next] = r
	l.next = (l.next + 1) % MaxRequests
}

func (l *requestLog) all() []Request {
	return append(append([]Request(nil), l.ring[l.next:]...), l.ring[:l.next]...)
}

// Requests returns the requests received, oldest first, faults included:
// the newest MaxRequests (10,000), with bodies cut at MaxRecordedBody
// (64 KiB).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests.all()
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = requestLog{}
}

// Fault is a failure that requests meet instead of the normal answer. A
// fault with only Delay set delays the answer, which is then the normal
// one.
type Fault struct {
	// Match, if set, chooses the requests that meet the fault: the others
	// are served normally and do not use up Times. It is called with the
	// server's lock held, so it must not call the Server's methods.
	Match func(Request) bool
	// Status is the status to answer with, with Body, instead of serving
	// the request. Zero serves the request (after Delay).
	Status int
	// Times is how many requests meet the fault; 0 means one.
	Times int
	// Body is the reply body; it is sent as it is, so it may be JSON,
	// empty, HTML or anything else.
	Body string
	// Header holds extra reply headers.
	Header http.Header
	// RetryAfter, if positive, is sent as a Retry-After header in whole
	// seconds, rounded up. Use Header for the HTTP-date form.
	RetryAfter time.Duration
	// Delay is how long to wait before answering. The wait ends early when
	// the client gives up or the server is closed.
	Delay time.Duration
	// Drop closes the connection without any reply.
	Drop bool
	// Truncate sends the status and headers with a Content-Length longer
	// than Body, then Body, then closes the connection: a reset mid-body.
	Truncate bool
	// Stall sends the status and headers, then nothing more until the
	// client gives up or the server is closed.
	Stall bool
}

// Inject queues f. A request meets the first queued fault that matches it,
// and each fault is met by Times requests.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Header != nil {
		f.Header = f.Header.Clone()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// PendingFaults returns how many requests are still to meet a fault.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Times
	}
	return n
}

// nextFault takes one use of the first queued fault that r meets. The
// caller holds mu.
func (s *Server) nextFault(r Request) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if f.Match != nil && !f.Match(r) {
			continue
		}
		met := *f
		if f.Times--; f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return met, true
	}
	return Fault{}, false
}

// record keeps r, its body cut and copied so that the read buffer is not
// kept with it.
func (s *Server) record(r Request) Request {
	r.Body = bytes.Clone(r.Body[:min(len(r.Body), MaxRecordedBody)])
	s.requests.add(r)
	return r
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
