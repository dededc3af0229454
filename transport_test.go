package phlo_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/phlogo/phlo"
)

// tlsServer is a TLS listener on loopback that hands each connection to
// serve after the handshake, and counts handshakes (ClientHellos).
type tlsServer struct {
	URL        string
	Roots      *x509.CertPool
	CertPEM    []byte
	handshakes atomic.Int64

	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// testCert is the certificate httptest serves, valid for 127.0.0.1.
func testCert(t *testing.T) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.StartTLS()
	defer hs.Close()
	return hs.TLS.Certificates[0], hs.Certificate()
}

func startTLSServer(t *testing.T, nextProtos []string, serve func(*tls.Conn)) *tlsServer {
	t.Helper()
	cert, leaf := testCert(t)
	s := &tlsServer{Roots: x509.NewCertPool(), conns: map[net.Conn]bool{}}
	s.Roots.AddCert(leaf)
	s.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: nextProtos}
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		s.handshakes.Add(1)
		return nil, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.ln = ln
	s.URL = "https://" + ln.Addr().String()
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Go(func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					serve(tc)
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// hostileH2 speaks HTTP/2 and never answers a request: it refuses or
// resets each stream, sends GOAWAY, or drops the connection, as soon as
// the request's headers arrive (early) or once the whole request has. It
// counts every request that reaches it by the HEADERS frame that starts it,
// and those it had whole before it acted, except those it refused, which
// HTTP/2 defines as not processed.
type hostileH2 struct {
	mode            string
	early           bool
	hits, processed atomic.Int64
}

func (h *hostileH2) counts() counts { return counts{h.hits.Load, h.processed.Load} }

// want is the class of error a call gets: a refused stream was never
// processed; a request the server had whole may have been; and one it cut
// off as its headers arrived may be either, as the client had written all
// of it or not.
func (h *hostileH2) want() error {
	switch {
	case h.mode == "refused-stream":
		return phlo.ErrNotSent
	case h.early:
		return nil
	}
	return phlo.ErrOutcomeUnknown
}

func (h *hostileH2) serve(c *tls.Conn) {
	serveH2Frames(c, func(fr *http2.Framer, f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			h.hits.Add(1)
			return !(h.early || f.StreamEnded()) || h.act(fr, f.StreamID, f.StreamEnded())
		case *http2.DataFrame:
			return h.early || !f.StreamEnded() || h.act(fr, f.StreamID, true)
		}
		return true
	})
}

// serveH2Frames reads a client's HTTP/2 connection: it answers SETTINGS
// and PING itself and hands every other frame, headers decoded, to
// onFrame, until onFrame returns false or the connection fails.
func serveH2Frames(c *tls.Conn, onFrame func(*http2.Framer, http2.Frame) bool) {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if fr.WriteSettings() != nil {
		return
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		default:
			if !onFrame(fr, f) {
				return
			}
		}
	}
}

// act answers a stream, which is whole or not; false closes the
// connection.
func (h *hostileH2) act(fr *http2.Framer, stream uint32, whole bool) bool {
	if whole && h.mode != "refused-stream" {
		h.processed.Add(1)
	}
	switch h.mode {
	case "refused-stream":
		fr.WriteRSTStream(stream, http2.ErrCodeRefusedStream)
	case "protocol-error":
		fr.WriteRSTStream(stream, http2.ErrCodeProtocol)
	case "goaway":
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		return false
	case "drop":
		return false
	}
	return true
}

var hostileModes = []string{"refused-stream", "protocol-error", "goaway", "drop"}

// fieldAction is one call of the SDK, and whether it is idempotent.
type fieldAction struct {
	name       string
	idempotent bool
	call       func(context.Context, *phlo.RestClient) error
}

func fieldActions() []fieldAction {
	p := func(c *phlo.RestClient) *phlo.Phlo { return c.Phlo("p") }
	mpc := func(c *phlo.RestClient) *phlo.MultiPartyCall { return p(c).MultiPartyCall("n") }
	m := func(c *phlo.RestClient) *phlo.Member { return mpc(c).Member("+14155550100") }
	params := phlo.CallParams{TriggerSource: "+1", To: "+2"}
	act := func(f func(*phlo.Member, context.Context) (*phlo.ActionResponse, error)) func(context.Context, *phlo.RestClient) error {
		return func(ctx context.Context, c *phlo.RestClient) error { _, err := f(m(c), ctx); return err }
	}
	call := func(f func(*phlo.MultiPartyCall, context.Context, phlo.CallParams) (*phlo.ActionResponse, error)) func(context.Context, *phlo.RestClient) error {
		return func(ctx context.Context, c *phlo.RestClient) error { _, err := f(mpc(c), ctx, params); return err }
	}
	return []fieldAction{
		{"call", false, call((*phlo.MultiPartyCall).Call)},
		{"warm_transfer", false, call((*phlo.MultiPartyCall).WarmTransfer)},
		{"cold_transfer", false, call((*phlo.MultiPartyCall).ColdTransfer)},
		{"run", false, func(ctx context.Context, c *phlo.RestClient) error {
			_, err := p(c).Run(ctx, map[string]any{"to": "+2"})
			return err
		}},
		{"resume_call", false, act((*phlo.Member).ResumeCall)},
		{"voicemail_drop", false, act((*phlo.Member).VoicemailDrop)},
		{"Do POST", false, func(ctx context.Context, c *phlo.RestClient) error {
			return c.Do(ctx, phlo.Request{Method: "POST", Path: []string{"phlo", "p"}, Body: map[string]string{"a": "b"}}, nil)
		}},
		{"hold", true, act((*phlo.Member).Hold)},
		{"unhold", true, act((*phlo.Member).Unhold)},
		{"hangup", false, act((*phlo.Member).Hangup)},
		{"abort_transfer", false, act((*phlo.Member).AbortTransfer)},
		{"get phlo", true, func(ctx context.Context, c *phlo.RestClient) error { _, err := p(c).Get(ctx); return err }},
		{"get node", true, func(ctx context.Context, c *phlo.RestClient) error { _, err := mpc(c).Get(ctx); return err }},
		{"get run", true, func(ctx context.Context, c *phlo.RestClient) error { _, err := p(c).GetRun(ctx, "r"); return err }},
	}
}

// fastRetries is the default policy's count with short waits.
var fastRetries = phlo.RetryPolicy{MaxRetries: 2, MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// counts are what a test server saw: requests started, and whole requests
// it may have acted on (not refused, nor cut off before they were whole).
type counts struct {
	started, processed func() int64
}

// checkSendsPerCall runs every action against a server that never answers
// and checks how often each one reached it, and what the error says of it.
// Each error matches exactly one of ErrNotSent and ErrOutcomeUnknown (want,
// if not nil). A request that never arrived was sent MaxRetries+1 times,
// whatever it is, and the server acted on none; one that may have arrived
// was sent MaxRetries+1 times if it is idempotent, and otherwise reached
// the server whole at most once. Nothing bounds a call but that:
// WithTimeout(0) and a context with no deadline.
// before, if not nil, runs before each call.
func checkSendsPerCall(t *testing.T, n counts, want error, newClient func(...phlo.Option) *phlo.RestClient, before func(*phlo.RestClient)) {
	for _, policy := range []phlo.RetryPolicy{{}, fastRetries} {
		c := newClient(phlo.WithRetryPolicy(policy), phlo.WithTimeout(0))
		for _, a := range fieldActions() {
			if before != nil {
				before(c)
			}
			started, processed := n.started(), n.processed()
			err := callWithWatchdog(t, a.call, c)
			require.Error(t, err, a.name)
			sends, acted := n.started()-started, n.processed()-processed
			notSent := errors.Is(err, phlo.ErrNotSent)
			require.NotEqual(t, notSent, errors.Is(err, phlo.ErrOutcomeUnknown), "%s: one class: %v", a.name, err)
			if want != nil {
				require.ErrorIs(t, err, want, a.name)
			}
			all := int64(1 + policy.MaxRetries)
			switch {
			case notSent:
				assert.Equal(t, all, sends, "%s with MaxRetries %d: sends", a.name, policy.MaxRetries)
				assert.Zero(t, acted, "%s: the server acted on a request reported unsent", a.name)
			case a.idempotent:
				assert.Equal(t, all, sends, "%s with MaxRetries %d: sends", a.name, policy.MaxRetries)
			default:
				assert.LessOrEqual(t, acted, int64(1), "%s: arrived whole more than once", a.name)
				assert.LessOrEqual(t, sends, all, a.name)
				if want == phlo.ErrOutcomeUnknown {
					assert.Equal(t, int64(1), sends, "%s: sent again after it may have arrived", a.name)
				}
			}
			var apiErr *phlo.APIError
			assert.False(t, errors.As(err, &apiErr), "%s: %v", a.name, err)
			noSecrets(t, err.Error())
		}
	}
}

// callWithWatchdog makes a call that nothing else bounds, and stops the test
// if it has not returned in 10 seconds.
func callWithWatchdog(t *testing.T, f func(context.Context, *phlo.RestClient) error, c *phlo.RestClient) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(ctx, c) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatal("the call did not return in 10 s: net/http may be resending it")
		return nil
	}
}

// TestHTTP2SendsEachAttemptOnce: over HTTP/2 with TLS, whatever the server
// does (refused or reset streams, GOAWAY, dropped connections), a request
// reaches it at most once per attempt, through the SDK's transport and
// through a plain *http.Transport given with WithHTTPClient.
func TestHTTP2SendsEachAttemptOnce(t *testing.T) {
	t.Parallel()
	transports := map[string]func(*x509.CertPool) http.RoundTripper{
		"NewTransport": func(roots *x509.CertPool) http.RoundTripper {
			tr := phlo.NewTransport()
			tr.TLSClientConfig.RootCAs = roots
			return tr
		},
		"http.Transport": func(roots *x509.CertPool) http.RoundTripper {
			return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
		},
	}
	for name, newTransport := range transports {
		for _, mode := range hostileModes {
			for _, early := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/early=%v", name, mode, early), func(t *testing.T) {
					t.Parallel()
					h := &hostileH2{mode: mode, early: early}
					srv := startTLSServer(t, []string{"h2"}, h.serve)
					hc := &http.Client{Transport: newTransport(srv.Roots)}
					checkSendsPerCall(t, h.counts(), h.want(), func(opts ...phlo.Option) *phlo.RestClient {
						c, err := phlo.NewRestClient(testAuthID, testAuthToken,
							append([]phlo.Option{phlo.WithBaseURL(srv.URL), phlo.WithHTTPClient(hc)}, opts...)...)
						require.NoError(t, err)
						return c
					}, nil)
				})
			}
		}
	}
}

// h2ChildEnv makes this test binary the child of
// TestHTTP2DefaultClientSendsEachAttemptOnce.
const h2ChildEnv = "PHLO_TEST_H2_CHILD"

// TestHTTP2DefaultClientSendsEachAttemptOnce: the same with the default
// client, which trusts only the system's roots. The test runs again in a
// child process whose SSL_CERT_FILE is the test certificate.
func TestHTTP2DefaultClientSendsEachAttemptOnce(t *testing.T) {
	if os.Getenv(h2ChildEnv) == "" {
		t.Parallel()
		_, leaf := testCert(t)
		certFile := filepath.Join(t.TempDir(), "cert.pem")
		require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600))
		cmd := exec.Command(os.Args[0], "-test.run=^TestHTTP2DefaultClientSendsEachAttemptOnce$", "-test.v")
		cmd.Env = append(os.Environ(), h2ChildEnv+"=1", "SSL_CERT_FILE="+certFile, "SSL_CERT_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child:\n%s", out)
		require.Contains(t, string(out), "--- PASS: TestHTTP2DefaultClientSendsEachAttemptOnce")
		require.Contains(t, string(out), "negotiated h2 through the default client")
		return
	}
	for _, mode := range hostileModes {
		for _, early := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/early=%v", mode, early), func(t *testing.T) {
				h := &hostileH2{mode: mode, early: early}
				srv := startTLSServer(t, []string{"h2"}, h.serve)
				checkSendsPerCall(t, h.counts(), h.want(), func(opts ...phlo.Option) *phlo.RestClient {
					c, err := phlo.NewRestClient(testAuthID, testAuthToken, append([]phlo.Option{phlo.WithBaseURL(srv.URL)}, opts...)...)
					require.NoError(t, err)
					return c
				}, nil)
			})
		}
	}
	// The default client did speak HTTP/2 to a server that offers it.
	var proto string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto = r.Proto
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"api_id":"a","error":""}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
	require.NoError(t, err)
	_, err = c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
	require.NoError(t, err)
	require.Equal(t, "HTTP/2.0", proto)
	c.CloseIdleConnections()
	t.Log("negotiated h2 through the default client")
}

// TestHTTP1ReusedConnectionIsNotResent: over HTTP/1.1 net/http resends a
// GET on its own when a reused connection fails after the request was
// written; the SDK leaves that decision to its policy, for every method.
func TestHTTP1ReusedConnectionIsNotResent(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/phlo/warm" {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"api_id":"w"}`)
			return
		}
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the request arrived whole; no reply ever comes
		}
	}))
	defer srv.Close()
	checkSendsPerCall(t, counts{hits.Load, hits.Load}, phlo.ErrOutcomeUnknown, func(opts ...phlo.Option) *phlo.RestClient {
		return plainClient(t, srv.URL, opts...)
	}, func(c *phlo.RestClient) {
		// Leave a connection in the pool, so the call reuses it.
		_, err := c.Phlo("warm").Get(context.Background())
		require.NoError(t, err)
	})
}

// canary is a loopback server that counts every request that reaches it:
// a request meant for a mock that escaped to the network.
func canary(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var escaped atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		escaped.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &escaped
}

func holdOK(t *testing.T, c *phlo.RestClient) {
	t.Helper()
	resp, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mocked", resp.APIID)
}

const mockedReply = `{"api_id":"mocked","error":""}`

// TestHTTPMockActivate: httpmock.Activate replaces http.DefaultTransport;
// a client built before it or after it sends to the mock, and to the
// network again once the mock is gone. Not parallel: it changes a global.
func TestHTTPMockActivate(t *testing.T) {
	url, escaped := canary(t)
	before, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(url))
	require.NoError(t, err)

	httpmock.Activate()
	httpmock.Reset() // calls counted by other tests on the same mock
	httpmock.RegisterResponder("POST", url+"/v1/phlo/p/multi_party_call/n/members/+1",
		httpmock.NewStringResponder(http.StatusCreated, mockedReply))
	after, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(url))
	require.NoError(t, err)
	holdOK(t, before)
	holdOK(t, after)
	assert.Equal(t, 2, httpmock.GetTotalCallCount())
	httpmock.DeactivateAndReset()
	assert.Zero(t, escaped.Load(), "a request escaped the mock")

	// The canary can fail: with the mock gone, the request reaches it.
	_, err = before.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTeapot, apiErr.StatusCode)
	assert.Equal(t, int64(1), escaped.Load())
}

// TestHTTPMockActivateNonDefault: a client given WithHTTPClient(hc) sends
// through hc as it stands at each request, so activating the mock on hc
// before or after NewRestClient works.
func TestHTTPMockActivateNonDefault(t *testing.T) {
	t.Parallel()
	url, escaped := canary(t)
	for _, activateFirst := range []bool{true, false} {
		hc := &http.Client{}
		if activateFirst {
			httpmock.ActivateNonDefault(hc)
		}
		c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(url), phlo.WithHTTPClient(hc))
		require.NoError(t, err)
		if !activateFirst {
			httpmock.ActivateNonDefault(hc)
		}
		mock := hc.Transport.(*httpmock.MockTransport)
		mock.RegisterResponder("POST", `=~/members/`, httpmock.NewStringResponder(http.StatusCreated, mockedReply))
		calls := mock.GetTotalCallCount()
		holdOK(t, c)
		assert.Equal(t, calls+1, mock.GetTotalCallCount())
		assert.Nil(t, hc.CheckRedirect, "the caller's client is not changed")
	}
	assert.Zero(t, escaped.Load(), "a request escaped the mock")
}

// countingRoundTripper wraps a transport, as a tracing library does.
type countingRoundTripper struct {
	next  http.RoundTripper
	calls atomic.Int64
}

func (c *countingRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(r)
}

// rtFunc is a RoundTripper that cannot be compared with ==.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestReplacedDefaultTransport: whatever a program puts in
// http.DefaultTransport, before or after NewRestClient, the default client
// sends through it, and nothing panics; nil, or a nil pointer, leaves the
// SDK's own transport in use. Not parallel: it changes a global.
func TestReplacedDefaultTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, mockedReply)
	}))
	defer srv.Close()
	orig := http.DefaultTransport
	defer func() { http.DefaultTransport = orig }()

	before, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
	require.NoError(t, err)
	wrapper := &countingRoundTripper{next: orig}
	http.DefaultTransport = wrapper
	after, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
	require.NoError(t, err)
	holdOK(t, before)
	holdOK(t, after)
	assert.Equal(t, int64(2), wrapper.calls.Load(), "the replaced transport was bypassed")

	var funcCalls atomic.Int64
	http.DefaultTransport = rtFunc(func(r *http.Request) (*http.Response, error) {
		funcCalls.Add(1)
		return orig.RoundTrip(r)
	})
	holdOK(t, before)
	assert.Equal(t, int64(1), funcCalls.Load())

	for name, rt := range map[string]http.RoundTripper{"nil": nil, "nil pointer": (*countingRoundTripper)(nil)} {
		http.DefaultTransport = rt
		require.NotPanics(t, func() {
			c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
			require.NoError(t, err, name)
			holdOK(t, c)
			c.CloseIdleConnections()
		}, name)
	}
}

// TestTransportWrappingKeepsThePool: a RoundTripper wrapped around
// NewTransport, as tracing does, reuses connections under 64 goroutines.
func TestTransportWrappingKeepsThePool(t *testing.T) {
	srv, conns := countingServer(t)
	wrapper := &countingRoundTripper{next: phlo.NewTransport()}
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL),
		phlo.WithHTTPClient(&http.Client{Transport: wrapper}))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	const goroutines, holds = 64, 20
	withVirtualTime(t, srv, func(t *testing.T) {
		for range 2 {
			parallelHolds(t, c, goroutines, holds)
		}
		assert.Equal(t, int64(2*goroutines*holds), wrapper.calls.Load())
		conns.checkPooled(t)
	})
}

// TestUntrustedCertificateIsNotRetried: a certificate that cannot be
// verified fails the same way every time: one handshake, however many
// retries the policy allows, and an error that says why.
func TestUntrustedCertificateIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t, []string{"h2", "http/1.1"}, func(c *tls.Conn) { io.Copy(io.Discard, c) })
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL), phlo.WithRetryPolicy(fastRetries))
	require.NoError(t, err)
	_, err = c.Phlo("p").Get(context.Background())
	var verr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, int64(1), srv.handshakes.Load(), "handshakes")
	assert.Contains(t, err.Error(), "certificate")
	noSecrets(t, err.Error())
}

// TestReplyHeadersAreCapped: the SDK's transport refuses reply headers
// over 64 KiB instead of reading up to net/http's 10 MiB.
func TestReplyHeadersAreCapped(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", 100<<10))
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, mockedReply)
	}))
	defer srv.Close()
	for name, opts := range map[string][]phlo.Option{
		"default":      nil,
		"NewTransport": {phlo.WithHTTPClient(&http.Client{Transport: phlo.NewTransport()})},
	} {
		c := plainClient(t, srv.URL, opts...)
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "header", name)
	}
}
