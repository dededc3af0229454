// Package phlotest provides a fake PHLO runner for tests, modelled on
// net/http/httptest: start it, point a client at it, close it.
//
//	srv := phlotest.Start(t) // closed by t.Cleanup
//	srv.AddMember("phlo-1", "node-1", "+14155550100", phlo.RoleCustomer)
//	client := srv.Client()
//	_, err := client.Phlo("phlo-1").MultiPartyCall("node-1").Member("+14155550100").Hold(ctx)
//	state, _ := srv.Member("phlo-1", "node-1", "+14155550100") // state.OnHold == true
//
// The server listens on loopback only, answers every endpoint of the PHLO
// runner API on the wire as the real runner does, and checks what the real
// runner checks: basic auth (401), the method (405), a JSON body (400), a
// known action and its mandatory parameters (400, with the runner's error
// texts such as "to is a mandatory param."), and the PHLO, node and member
// named in the path (404). Every error body is {"api_id": ..., "error": ...}.
// Like the real runner it accepts paths with or without a trailing slash,
// ignores query parameters on GETs, and takes a member action given as
// "?action=hold" with a "{}" body.
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
//
// # Faults
//
// Inject queues faults that the next requests meet instead of the normal
// answer, in order: a status with any body and Retry-After, a delay, a
// dropped connection, a body cut short, a body that never comes.
package phlotest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/phlogo/phlo"
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
	tb        testing.TB
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	phlos    map[string]*phloState
	runs     map[string]*runState
	runOrder []string
	requests []Request
	faults   []Fault
	clients  []*phlo.RestClient
	now      func() time.Time
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
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Start is NewServer for a test: it registers Close with tb.Cleanup, and
// Client reports a bad option with tb.Fatal.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := NewServer(opts...)
	s.tb = tb
	tb.Cleanup(s.Close)
	return s
}

// Listen starts a server on addr, such as "127.0.0.1:8089", for programs
// that talk to it from outside the process.
func Listen(addr string, opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newServer(opts)
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

func newServer(opts []Option) *Server {
	s := &Server{
		AuthID:    "MA" + randomString(18, upperAlnum),
		AuthToken: randomString(40, mixedAlnum),
		closed:    make(chan struct{}),
		phlos:     make(map[string]*phloState),
		runs:      make(map[string]*runState),
		now:       time.Now,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	return s
}

// Close ends every request in progress, including those held by a fault,
// closes the clients that Client made, and shuts the server down. It may be
// called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
		s.mu.Lock()
		clients := s.clients
		s.clients = nil
		s.mu.Unlock()
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	})
}

// Client returns a client pointed at the server with its credentials, and
// opts after that. An invalid option is a programming error: Client fails
// the test for a server made with Start, and panics otherwise; NewClient
// returns the error instead.
func (s *Server) Client(opts ...phlo.Option) *phlo.RestClient {
	c, err := s.NewClient(opts...)
	if err != nil {
		if s.tb != nil {
			s.tb.Helper()
			s.tb.Fatalf("phlotest: Client: %v", err)
		}
		panic(fmt.Sprintf("phlotest: Client: %v", err))
	}
	return c
}

// NewClient is Client returning the error of an invalid option.
func (s *Server) NewClient(opts ...phlo.Option) (*phlo.RestClient, error) {
	all := append([]phlo.Option{phlo.WithBaseURL(s.URL)}, opts...)
	c, err := phlo.NewRestClient(s.AuthID, s.AuthToken, all...)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	return c, nil
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
	// Body is the request body, read up to 1 MiB.
	Body []byte
}

// Requests returns every request received so far, in order, faults
// included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Fault is a failure the next requests meet instead of the normal answer.
// A fault with only Delay set delays the answer, which is then the normal
// one.
type Fault struct {
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

// Inject queues f. Queued faults are met in the order they were injected,
// each by Times requests.
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

// nextFault takes one use of the first queued fault. The caller holds mu.
func (s *Server) nextFault() (Fault, bool) {
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	s.faults[0].Times--
	if s.faults[0].Times <= 0 {
		s.faults = s.faults[1:]
	}
	return f, true
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
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
