package phlo_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/phlogo/phlo"
)

// The outcome tests answer, on the wire, the question every error answers:
// may the runner have acted? Each case makes a server fail in one way, over
// HTTP/1.1 and HTTP/2, for each kind of request, and checks the class of
// the error and how many times the server received the whole request.

// wireKind is a kind of request, as the retry policy sees it.
type wireKind struct {
	name       string
	idempotent bool
	call       func(context.Context, *phlo.RestClient) error
}

var wireKinds = []wireKind{
	{"call", false, func(ctx context.Context, c *phlo.RestClient) error {
		_, err := c.Phlo("p").MultiPartyCall("n").Call(ctx, phlo.CallParams{TriggerSource: "+14155550100", To: "+14155550111"})
		return err
	}},
	{"hold", true, func(ctx context.Context, c *phlo.RestClient) error {
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+14155550100").Hold(ctx)
		return err
	}},
	{"get", true, func(ctx context.Context, c *phlo.RestClient) error {
		_, err := c.Phlo("p").MultiPartyCall("n").Get(ctx)
		return err
	}},
	{"run", false, func(ctx context.Context, c *phlo.RestClient) error {
		_, err := c.Phlo("p").Run(ctx, map[string]any{"to": "+14155550111"})
		return err
	}},
}

// outcomePolicy retries at once, as often as the default policy does.
var outcomePolicy = phlo.RetryPolicy{MaxRetries: 2, MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// errEither stands for "ErrNotSent or ErrOutcomeUnknown": a connection the
// server shut as the request went out, which net/http may or may not have
// written.
var errEither = errors.New("either")

// resend says which kinds of request a failure is sent again for.
type resend int

const (
	never resend = iota
	ifIdempotent
	always
)

// wireCase is one way for the server to fail, and what the caller gets.
type wireCase struct {
	name string
	h2   bool // HTTP/2 only
	h1   bool // HTTP/1.1 only
	// server makes the server fail; it runs before the server starts.
	server func(*outcomeServer)
	// class is ErrNotSent, ErrOutcomeUnknown, errEither, or nil for an
	// *APIError that says the runner did not act; h2Class, if set, is the
	// class over HTTP/2.
	class, h2Class error
	also           error // another error the result must match, if not nil
	status         int   // the *APIError's status, when there is one
	resend         resend
	// arrives says that every attempt reaches the server whole.
	arrives bool
	// raced says that the context may end before or after the request is
	// whole at the server: then it is ErrOutcomeUnknown if it arrived,
	// and ErrNotSent only if it did not.
	raced bool
	opts  []phlo.Option
}

func statusCases() []wireCase {
	var cases []wireCase
	for _, st := range []struct {
		status int
		class  error
		resend resend
	}{
		{500, phlo.ErrOutcomeUnknown, never},
		{502, phlo.ErrOutcomeUnknown, ifIdempotent},
		{503, phlo.ErrOutcomeUnknown, ifIdempotent},
		{504, phlo.ErrOutcomeUnknown, ifIdempotent},
		{429, nil, always},
		{400, nil, never},
	} {
		body := `{"api_id":"e","error":"` + strings.ToLower(http.StatusText(st.status)) + `"}`
		cases = append(cases,
			wireCase{name: fmt.Sprint(st.status), server: replying(st.status, body, false),
				class: st.class, status: st.status, resend: st.resend, arrives: true},
			wireCase{name: fmt.Sprint(st.status, " cut"), server: replying(st.status, body, true),
				class: st.class, status: st.status, resend: st.resend, arrives: true})
	}
	return cases
}

func wireCases() []wireCase {
	return append([]wireCase{
		{name: "dial refused", server: func(s *outcomeServer) { s.refuse = true },
			class: phlo.ErrNotSent, resend: always},
		{name: "first write fails", server: func(s *outcomeServer) { s.resetFirst = true },
			class: phlo.ErrNotSent, resend: always},
		{name: "preface write fails", h2: true, server: func(s *outcomeServer) { s.resetAfterHandshake = true },
			class: phlo.ErrNotSent, resend: always},
		// Over HTTP/2 the server shuts the connection during the TLS
		// handshake: nothing of the request was sent.
		{name: "reset before the server reads", server: onAccept(resetConn),
			class: errEither, h2Class: phlo.ErrNotSent, resend: always},
		{name: "close before the server reads", server: onAccept(closeConn),
			class: errEither, h2Class: phlo.ErrNotSent, resend: always},
		{name: "reset after the server read", server: afterRead(func(_ http.ResponseWriter, r *http.Request) { resetConn(rawConn(r)) }),
			class: phlo.ErrOutcomeUnknown, resend: ifIdempotent, arrives: true},
		{name: "close after the server read", server: afterRead(func(_ http.ResponseWriter, r *http.Request) { closeConn(rawConn(r)) }),
			class: phlo.ErrOutcomeUnknown, resend: ifIdempotent, arrives: true},
		{name: "stream reset after the server read", server: afterRead(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }),
			class: phlo.ErrOutcomeUnknown, resend: ifIdempotent, arrives: true},
		// A loaded machine may take the timeout's 300 ms to connect.
		{name: "stall past the timeout", server: afterRead(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }),
			class: errEither, also: context.DeadlineExceeded, resend: never, raced: true,
			opts: []phlo.Option{phlo.WithTimeout(300 * time.Millisecond)}},
		{name: "2xx invalid", server: replying(201, `<html>created</html>`, false),
			class: phlo.ErrOutcomeUnknown, also: phlo.ErrInvalidResponse, resend: never, arrives: true},
		{name: "2xx cut", server: replying(201, `{"api_id":"a","error":""}`, true),
			class: phlo.ErrOutcomeUnknown, resend: never, arrives: true},
	}, statusCases()...)
}

// TestOutcomeOnTheWire: for each way to fail, each protocol and each kind
// of request, the error's class, the attempts made and what reached the
// server.
func TestOutcomeOnTheWire(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		for _, tc := range wireCases() {
			if tc.h2 && proto != "HTTP/2" || tc.h1 && proto != "HTTP/1.1" {
				continue
			}
			for _, kind := range wireKinds {
				t.Run(proto+"/"+tc.name+"/"+kind.name, func(t *testing.T) {
					t.Parallel()
					tc := tc
					s := newOutcomeServer(t, proto == "HTTP/2", tc.server)
					if s.h2 && tc.h2Class != nil {
						tc.class = tc.h2Class
					}
					c, attempts := s.client(t, tc.opts...)
					err := kind.call(context.Background(), c)
					checkOutcome(t, tc, kind, err, attempts(), s.received.Load())
					s.checkProto(t)
				})
			}
		}
	}
}

// checkOutcome checks err, after n attempts of which received reached the
// server whole, against what tc says.
func checkOutcome(t *testing.T, tc wireCase, kind wireKind, err error, n int, received int64) {
	t.Helper()
	require.Error(t, err)
	notSent, unknown := errors.Is(err, phlo.ErrNotSent), errors.Is(err, phlo.ErrOutcomeUnknown)
	require.False(t, notSent && unknown, "both classes: %v", err)
	require.False(t, errors.Is(err, phlo.ErrInvalidArgument), "%v", err)
	switch tc.class {
	case errEither:
		require.True(t, notSent || unknown, "%v", err)
	case nil:
		require.False(t, notSent || unknown, "%v", err)
	default:
		require.ErrorIs(t, err, tc.class)
	}
	if tc.also != nil {
		require.ErrorIs(t, err, tc.also)
	}
	var apiErr *phlo.APIError
	if tc.status != 0 {
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, tc.status, apiErr.StatusCode)
		assert.Equal(t, n, apiErr.Attempts, "APIError.Attempts")
		if strings.HasSuffix(tc.name, " cut") {
			assert.Contains(t, apiErr.Message, "cut short")
		}
	} else {
		require.False(t, errors.As(err, &apiErr), "%v", err)
	}
	all := 1 + outcomePolicy.MaxRetries
	switch {
	case tc.resend == never:
		assert.Equal(t, 1, n, "sent again: %v", err)
	case notSent:
		assert.Equal(t, all, n, "what never arrived is sent again, whatever it is: %v", err)
	case tc.class == errEither && !kind.idempotent:
		// Attempts that never arrived are sent again, until one may have.
		assert.LessOrEqual(t, n, all, "%v", err)
	case tc.resend == always, tc.resend == ifIdempotent && kind.idempotent:
		assert.Equal(t, all, n, "attempts: %v", err)
	default:
		assert.Equal(t, 1, n, "sent again after it may have arrived: %v", err)
	}
	if n > 1 && apiErr == nil {
		assert.Contains(t, err.Error(), fmt.Sprintf("after %d attempts", n))
	}
	switch {
	case tc.raced:
		assert.LessOrEqual(t, received, int64(n), "whole requests received")
		if received > 0 {
			assert.True(t, unknown, "the server had the request: %v", err)
		}
	case tc.arrives:
		assert.Equal(t, int64(n), received, "whole requests received")
	default:
		assert.Zero(t, received, "whole requests received")
	}
	checkErrorText(t, err)
	noSecrets(t, err.Error())
}

// outcomeServer is an httptest server, over HTTP/1.1 or HTTP/2 with TLS,
// that counts the requests it reads whole and then fails as told.
type outcomeServer struct {
	*httptest.Server
	h2       bool
	received atomic.Int64
	protos   sync.Map // the protocols requests came in

	// handle answers a request read whole; by default a 201.
	handle func(http.ResponseWriter, *http.Request)
	// accept, if set, takes each connection as it is accepted: it
	// returns false when it has shut it.
	accept func(net.Conn) bool
	// refuse closes the listener before any request: dials are refused.
	refuse bool
	// resetFirst resets each connection as it is accepted, before the
	// client writes anything: the client's first write fails.
	resetFirst bool
	wasReset   chan struct{}
	// resetAfterHandshake resets each connection once the TLS handshake
	// is done, before the client writes the HTTP/2 preface.
	resetAfterHandshake bool
	conns               sync.Map // remote address: the server's side of each connection
	// configure, if set, changes the server before it starts.
	configure func(*http.Server)
	// tweak, if set, changes the client's transport.
	tweak func(*http.Transport)
}

type connKey struct{}

// discardLog keeps the server's reports of the failures it is told to make
// out of the test output.
var discardLog = log.New(io.Discard, "", 0)

// rawConn is the TCP connection a request came on.
func rawConn(r *http.Request) net.Conn {
	c := r.Context().Value(connKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return c
}

// resetConn closes c, or the TCP connection under it, with a reset.
func resetConn(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

func closeConn(c net.Conn) { c.Close() }

func onAccept(shut func(net.Conn)) func(*outcomeServer) {
	return func(s *outcomeServer) {
		s.accept = func(c net.Conn) bool { shut(c); return false }
	}
}

func afterRead(h func(http.ResponseWriter, *http.Request)) func(*outcomeServer) {
	return func(s *outcomeServer) { s.handle = h }
}

// replying answers status and body, or, cut, promises more than body and
// breaks off after it.
func replying(status int, body string, cut bool) func(*outcomeServer) {
	return afterRead(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !cut {
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+16))
		w.WriteHeader(status)
		io.WriteString(w, body)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // HTTP/1.1: closes the connection; HTTP/2: resets the stream
	})
}

func newOutcomeServer(t *testing.T, h2 bool, setup func(*outcomeServer)) *outcomeServer {
	t.Helper()
	s := &outcomeServer{h2: h2, wasReset: make(chan struct{}, 8)}
	s.handle = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"api_id":"ok","error":"","phlo_id":"p","name":"n","node_id":"n","phlo_run_id":"r"}`)
	}
	if setup != nil {
		setup(s)
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return
		}
		s.received.Add(1)
		s.protos.Store(r.Proto, true)
		s.handle(w, r)
	}))
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	s.Config.ErrorLog = discardLog
	if s.resetAfterHandshake {
		s.Config.ConnState = func(c net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Store(c.RemoteAddr().String(), c)
			}
		}
	}
	if s.configure != nil {
		s.configure(s.Config)
	}
	if s.resetFirst {
		s.accept = func(c net.Conn) bool {
			resetConn(c)
			s.wasReset <- struct{}{}
			return false
		}
	}
	if s.accept != nil {
		s.Listener = hookListener{s.Listener, s.accept}
	}
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	if s.refuse {
		s.Listener.Close()
	}
	return s
}

// client returns a client with its own pool (phlo.NewTransport) and a
// counter of its attempts.
func (s *outcomeServer) client(t *testing.T, opts ...phlo.Option) (*phlo.RestClient, func() int) {
	t.Helper()
	tr := phlo.NewTransport()
	if s.h2 {
		roots := x509.NewCertPool()
		roots.AddCert(s.Certificate())
		tr.TLSClientConfig.RootCAs = roots
	}
	if s.resetFirst {
		tr.DialContext = s.dialAfterReset(tr.DialContext)
	}
	if s.resetAfterHandshake {
		tr.DialTLSContext = s.handshakeThenReset(tr.TLSClientConfig)
	}
	if s.tweak != nil {
		s.tweak(tr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	var mu sync.Mutex
	var n int
	all := append([]phlo.Option{
		phlo.WithBaseURL(s.URL),
		phlo.WithHTTPClient(&http.Client{Transport: tr}),
		phlo.WithRetryPolicy(outcomePolicy),
		phlo.WithTimeout(10 * time.Second),
		newCountingLogger(&mu, &n),
	}, opts...)
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, all...)
	require.NoError(t, err)
	return c, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// dialAfterReset dials, then waits until the server has reset the
// connection and the reset has arrived, so that the first write fails.
func (s *outcomeServer) dialAfterReset(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		select {
		case <-s.wasReset:
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
		// A read returns once the reset is in; the connection stays
		// broken for the writes that follow.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 1))
		c.SetReadDeadline(time.Time{})
		return c, nil
	}
}

// handshakeThenReset dials and completes the TLS handshake, offering
// HTTP/2, then has the server reset the connection and waits for the reset
// to arrive, so that the client's first write, its HTTP/2 preface, fails.
func (s *outcomeServer) handshakeThenReset(cfg *tls.Config) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := new(net.Dialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := cfg.Clone()
		cfg.NextProtos = []string{"h2"}
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		server, ok := s.conns.Load(raw.LocalAddr().String())
		if !ok {
			raw.Close()
			return nil, errors.New("the server has no such connection")
		}
		resetConn(server.(net.Conn))
		// Read what the server sent after the handshake (a session
		// ticket) until the reset is in.
		raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		for buf := make([]byte, 512); ; {
			if _, err := raw.Read(buf); err != nil {
				break
			}
		}
		raw.SetReadDeadline(time.Time{})
		return tc, nil
	}
}

// checkProto fails if a request came in over another protocol than the
// server's.
func (s *outcomeServer) checkProto(t *testing.T) {
	t.Helper()
	want := "HTTP/1.1"
	if s.h2 {
		want = "HTTP/2.0"
	}
	s.protos.Range(func(k, _ any) bool {
		assert.Equal(t, want, k)
		return true
	})
}

// hookListener hands each accepted connection to accept first.
type hookListener struct {
	net.Listener
	accept func(net.Conn) bool
}

func (l hookListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.accept(c) {
			return c, err
		}
	}
}

// TestOutcomeWaitingForAPooledConnection: a context that ends while the
// call waits for a connection, all of them busy at the per-host cap, never
// sent anything.
func TestOutcomeWaitingForAPooledConnection(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		for _, kind := range wireKinds {
			t.Run(fmt.Sprintf("h2=%v/%s", h2, kind.name), func(t *testing.T) {
				t.Parallel()
				arrived, release := make(chan struct{}), make(chan struct{})
				s := newOutcomeServer(t, h2, func(s *outcomeServer) {
					s.handle = func(w http.ResponseWriter, r *http.Request) {
						close(arrived)
						<-release
						w.WriteHeader(http.StatusCreated)
						io.WriteString(w, `{"api_id":"a","error":""}`)
					}
					s.tweak = func(tr *http.Transport) { tr.MaxConnsPerHost = 1 }
					// Over HTTP/2 the busy request fills the connection.
					s.configure = func(hs *http.Server) { hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1} }
				})
				c, attempts := s.client(t)
				busy := make(chan error, 1)
				go func() { busy <- wireKinds[1].call(context.Background(), c) }()
				<-arrived // the one connection allowed is busy

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GetConn: func(string) { cancel() }})
				err := kind.call(ctx, c)
				require.ErrorIs(t, err, phlo.ErrNotSent)
				require.ErrorIs(t, err, context.Canceled)
				assert.False(t, errors.Is(err, phlo.ErrOutcomeUnknown))
				assert.Equal(t, int64(1), s.received.Load(), "only the busy request arrived")
				close(release)
				require.NoError(t, <-busy)
				assert.Equal(t, 2, attempts(), "one attempt each")
			})
		}
	}
}

// TestOutcomeKeepAliveClosedOnReuse: a server that resets each connection
// once it has answered, as a load balancer drops an idle one, before the
// client sends its next request. A call that takes the dead pooled
// connection fails before it is written (over HTTP/2, its first frame) and
// goes out again on a fresh one: every call reaches the server exactly
// once and succeeds.
func TestOutcomeKeepAliveClosedOnReuse(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		for _, kind := range wireKinds {
			t.Run(fmt.Sprintf("h2=%v/%s", h2, kind.name), func(t *testing.T) {
				t.Parallel()
				var mu sync.Mutex
				var conns []net.Conn
				s := newOutcomeServer(t, h2, func(s *outcomeServer) {
					s.configure = func(hs *http.Server) {
						hs.ConnState = func(c net.Conn, st http.ConnState) {
							if st == http.StateNew {
								mu.Lock()
								conns = append(conns, c)
								mu.Unlock()
							}
						}
					}
				})
				c, attempts := s.client(t)
				const calls = 30
				for i := range calls {
					require.NoError(t, kind.call(context.Background(), c), "call %d", i)
					mu.Lock()
					for _, conn := range conns {
						resetConn(conn) // the connection in the pool is dead
					}
					conns = nil
					mu.Unlock()
				}
				assert.Equal(t, int64(calls), s.received.Load(), "each call reached the server once")
				t.Logf("%d attempts for %d calls", attempts(), calls)
			})
		}
	}
}

// refusingH2 speaks HTTP/2: it refuses the first refuse streams that reach
// it whole (all of them if refuse is negative), which HTTP/2 defines as not
// processed, and answers the others with a 201. It counts the requests it
// answered.
type refusingH2 struct {
	refuse   int64
	refused  atomic.Int64
	answered atomic.Int64
}

func (h *refusingH2) serve(c *tls.Conn) {
	serveH2Frames(c, func(fr *http2.Framer, f http2.Frame) bool {
		if f.Header().Flags.Has(http2.FlagDataEndStream) {
			h.answer(fr, f.Header().StreamID) // HEADERS or DATA that ends a stream
		}
		return true
	})
}

func (h *refusingH2) answer(fr *http2.Framer, stream uint32) {
	if h.refuse < 0 || h.refused.Load() < h.refuse {
		h.refused.Add(1)
		fr.WriteRSTStream(stream, http2.ErrCodeRefusedStream)
		return
	}
	h.answered.Add(1)
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "201"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/json"})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: hdr.Bytes(), EndHeaders: true})
	fr.WriteData(stream, true, []byte(`{"api_id":"ok","error":"","phlo_id":"p","node_id":"n","phlo_run_id":"r"}`))
}

// TestOutcomeRefusedStream: an HTTP/2 stream the server refused was never
// processed. Any request is sent again, and once the server takes it, it
// reached the server once and succeeded; if the server refuses every
// stream, the error says nothing was sent.
func TestOutcomeRefusedStream(t *testing.T) {
	t.Parallel()
	for _, kind := range wireKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			for _, refuse := range []int64{1, -1} {
				h := &refusingH2{refuse: refuse}
				srv := startTLSServer(t, []string{"h2"}, h.serve)
				tr := phlo.NewTransport()
				tr.TLSClientConfig.RootCAs = srv.Roots
				defer tr.CloseIdleConnections()
				var mu sync.Mutex
				var attempts int
				c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL),
					phlo.WithHTTPClient(&http.Client{Transport: tr}), phlo.WithRetryPolicy(outcomePolicy), newCountingLogger(&mu, &attempts))
				require.NoError(t, err)
				err = kind.call(context.Background(), c)
				if refuse > 0 {
					require.NoError(t, err)
					assert.Equal(t, int64(1), h.answered.Load())
					assert.Equal(t, 2, attempts)
					continue
				}
				require.ErrorIs(t, err, phlo.ErrNotSent)
				assert.False(t, errors.Is(err, phlo.ErrOutcomeUnknown))
				assert.Contains(t, err.Error(), "REFUSED_STREAM")
				assert.Equal(t, int64(3), h.refused.Load())
				assert.Zero(t, h.answered.Load())
			}
		})
	}
}

// rawServer accepts connections on loopback, counts them, and hands each to
// serve after reading what the client sends first.
func rawServer(t *testing.T, serve func(net.Conn)) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Go(func() {
				defer c.Close()
				c.Read(make([]byte, 4096)) // the ClientHello
				serve(c)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), accepted
}

// TestOutcomeTLSFailures: a TLS handshake that failed never sent the
// request. One that would fail again (no TLS, a protocol error, an alert)
// is not retried; one that timed out or that the peer closed is.
func TestOutcomeTLSFailures(t *testing.T) {
	t.Parallel()
	write := func(b []byte) func(net.Conn) { return func(c net.Conn) { c.Write(b) } }
	for _, tc := range []struct {
		name    string
		serve   func(net.Conn)
		retried bool
		text    string // a regular expression
		timeout time.Duration
	}{
		{"not TLS", write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")), false, "HTTP response to HTTPS client", 0},
		// A HelloRequest where the ServerHello belongs.
		{"unexpected handshake message", write([]byte{22, 3, 3, 0, 4, 0, 0, 0, 0}), false, "unexpected handshake message", 0},
		{"alert", write([]byte{21, 3, 3, 0, 2, 2, 40}), false, "handshake failure", 0},
		{"peer closed", func(net.Conn) {}, true, "EOF|connection reset", 0},
		{"timed out", func(c net.Conn) { c.Read(make([]byte, 1)) }, true, "TLS handshake timeout", 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, accepted := rawServer(t, tc.serve)
			tr := phlo.NewTransport()
			if tc.timeout > 0 {
				tr.TLSHandshakeTimeout = tc.timeout
			}
			defer tr.CloseIdleConnections()
			c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL("https://"+addr),
				phlo.WithHTTPClient(&http.Client{Transport: tr}), phlo.WithRetryPolicy(outcomePolicy))
			require.NoError(t, err)
			err = wireKinds[0].call(context.Background(), c) // a call: sent again only if it never left
			require.ErrorIs(t, err, phlo.ErrNotSent)
			assert.False(t, errors.Is(err, phlo.ErrOutcomeUnknown))
			assert.Regexp(t, tc.text, err.Error())
			want := int64(1)
			if tc.retried {
				want += int64(outcomePolicy.MaxRetries)
			}
			assert.Equal(t, want, accepted.Load(), "handshakes")
		})
	}
}

// TestOutcomeProxyRefusedTheTunnel: a proxy that refuses CONNECT sent
// nothing to the runner; the call goes out again, and the runner never
// receives it.
func TestOutcomeProxyRefusedTheTunnel(t *testing.T) {
	t.Parallel()
	var connects atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			connects.Add(1)
		}
		http.Error(w, "tunnels forbidden", http.StatusForbidden)
	}))
	defer proxy.Close()
	runner := newOutcomeServer(t, true, nil)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	for _, kind := range wireKinds {
		connects.Store(0)
		c, attempts := runner.client(t, phlo.WithHTTPClient(&http.Client{Transport: func() *http.Transport {
			tr := phlo.NewTransport()
			tr.Proxy = http.ProxyURL(proxyURL)
			return tr
		}()}))
		err := kind.call(context.Background(), c)
		require.ErrorIs(t, err, phlo.ErrNotSent, kind.name)
		assert.Contains(t, err.Error(), "Forbidden")
		assert.Equal(t, int64(1+outcomePolicy.MaxRetries), connects.Load(), kind.name)
		assert.Equal(t, 1+outcomePolicy.MaxRetries, attempts(), kind.name)
	}
	assert.Zero(t, runner.received.Load(), "the runner received a request")
}

// TestOutcomeOverAttempts: a call attempted several times may have acted
// if any attempt may have arrived; otherwise its last attempt answers.
func TestOutcomeOverAttempts(t *testing.T) {
	t.Parallel()
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	status := func(code int, retryAfter string) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			resp := jsonResponse(code, `{"api_id":"a","error":"e"}`)
			if retryAfter != "" {
				resp.Header.Set("Retry-After", retryAfter)
			}
			return resp, nil
		}
	}
	refused := func() (*http.Response, error) { return nil, dialErr }
	for _, tc := range []struct {
		name     string
		replies  []func() (*http.Response, error)
		class    error // nil: an *APIError that matches neither
		status   int
		attempts int
	}{
		{"502 then refused", []func() (*http.Response, error){status(502, ""), refused, refused}, phlo.ErrOutcomeUnknown, 0, 3},
		{"503 then a long 429", []func() (*http.Response, error){status(503, ""), status(429, "3600")}, phlo.ErrOutcomeUnknown, 429, 2},
		{"429 then refused", []func() (*http.Response, error){status(429, ""), refused, refused}, phlo.ErrNotSent, 0, 3},
		{"refused then 400", []func() (*http.Response, error){refused, status(400, "")}, nil, 400, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{reply: func(n int, _ *http.Request) (*http.Response, error) { return tc.replies[n-1]() }}
			c := mockClientFunc(t, rec, phlo.WithRetryPolicy(outcomePolicy))
			err := wireKinds[1].call(context.Background(), c) // hold: idempotent
			require.Len(t, rec.all(), tc.attempts)
			notSent, unknown := errors.Is(err, phlo.ErrNotSent), errors.Is(err, phlo.ErrOutcomeUnknown)
			require.False(t, notSent && unknown, "%v", err)
			if tc.class == nil {
				require.False(t, notSent || unknown, "%v", err)
			} else {
				require.ErrorIs(t, err, tc.class)
			}
			var apiErr *phlo.APIError
			if tc.status == 0 {
				var opErr *net.OpError
				require.ErrorAs(t, err, &opErr, "the last attempt's error is kept")
				assert.Contains(t, err.Error(), fmt.Sprintf("after %d attempts", tc.attempts))
				return
			}
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.attempts, apiErr.Attempts)
		})
	}
}
