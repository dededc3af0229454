package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/callback"
	"github.com/phlogo/phlo/phlotest"
	plivo "github.com/plivo/plivo-go/v7"
)

const (
	authID, authToken             = "MAZDQ1ZJIYMDZKMDUZMZ", "benchmark-token"
	phloID, nodeID, memberAddress = "2d3c5a1e-phlo", "8f1e-mpc", "+14155550100"
	childEnv                      = "PHLO_BENCH_RUNNER"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	code := m.Run()
	stopChild()
	os.Exit(code)
}

// runChild is the child process: the fake runner with one call, until
// standard input closes. It serves over plain HTTP and over TLS with
// HTTP/1.1, where /_handshakes counts the TLS handshakes made, and prints
// both base URLs.
func runChild() {
	srv, err := phlotest.Listen("127.0.0.1:0", phlotest.WithCredentials(authID, authToken))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv.AddMember(phloID, nodeID, memberAddress, phlo.RoleCustomer)
	var handshakes atomic.Int64
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_handshakes" {
			fmt.Fprint(w, handshakes.Load())
			return
		}
		srv.ServeHTTP(w, r)
	}))
	tlsSrv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		handshakes.Add(1)
		return nil, nil
	}}
	tlsSrv.StartTLS()
	fmt.Println(srv.URL, tlsSrv.URL)
	// The fake keeps every request; forget them now and then so that a
	// long run does not grow it.
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			srv.Close()
			os.Exit(0)
		}
		srv.ResetRequests()
	}
}

var child struct {
	once sync.Once
	url  string
	tls  string
	err  error
	cmd  *exec.Cmd
	in   io.WriteCloser
}

func runnerURL(tb testing.TB) string {
	tb.Helper()
	child.once.Do(func() {
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1")
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			child.err = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			child.err = err
			return
		}
		if child.err = cmd.Start(); child.err != nil {
			return
		}
		child.cmd, child.in = cmd, in
		line, err := bufio.NewReader(out).ReadString('\n')
		child.err = err
		if urls := strings.Fields(line); len(urls) == 2 {
			child.url, child.tls = urls[0], urls[1]
		} else if err == nil {
			child.err = fmt.Errorf("the child printed %q", line)
		}
	})
	if child.err != nil {
		tb.Fatalf("fake runner: %v", child.err)
	}
	return child.url
}

// resetRunner makes the child forget the requests it has kept.
func resetRunner() {
	if child.in != nil {
		child.in.Write([]byte{'\n'})
	}
}

func stopChild() {
	if child.cmd != nil {
		child.in.Close()
		child.cmd.Wait()
	}
}

// holdPhlo holds the member with this SDK: one request.
func holdPhlo(ctx context.Context, c *phlo.RestClient) error {
	_, err := c.Phlo(phloID).MultiPartyCall(nodeID).Member(memberAddress).Hold(ctx)
	return err
}

// holdPlivo holds the member from the same IDs with Plivo's Go SDK: it
// fetches the PHLO, then the node, then acts on the member.
func holdPlivo(c *plivo.PhloClient) error {
	p, err := c.Phlos.Get(phloID)
	if err != nil {
		return err
	}
	mpc, err := p.MultiPartyCall(nodeID)
	if err != nil {
		return err
	}
	_, err = mpc.Member(memberAddress).Hold()
	return err
}

// holdRaw is the floor: the one request written by hand with net/http.
func holdRaw(ctx context.Context, hc *http.Client, base string) error {
	body, err := json.Marshal(struct {
		Action string `json:"action"`
	}{"hold"})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		base+"/v1/phlo/"+phloID+"/multi_party_call/"+nodeID+"/members/"+memberAddress, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(authID, authToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		APIID string `json:"api_id"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated || out.Error != "" {
		return fmt.Errorf("status %d: %s", resp.StatusCode, out.Error)
	}
	return nil
}

func newPlivo(tb testing.TB, base string, hc *http.Client) *plivo.PhloClient {
	tb.Helper()
	c, err := plivo.NewPhloClient(authID, authToken, &plivo.ClientOptions{HttpClient: hc})
	if err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	c.BaseUrl = u // loopback only: never the real runner
	return c
}

func newPhlo(tb testing.TB, base string, opts ...phlo.Option) *phlo.RestClient {
	tb.Helper()
	c, err := phlo.NewRestClient(authID, authToken, append([]phlo.Option{phlo.WithBaseURL(base)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// BenchmarkHoldFromIDs holds one member, starting from the PHLO, node and
// member IDs, three ways. Compare with: benchstat -col /impl.
func BenchmarkHoldFromIDs(b *testing.B) {
	base := runnerURL(b)
	ctx := context.Background()
	b.Run("impl=raw", func(b *testing.B) {
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := holdRaw(ctx, hc, base); err != nil {
				b.Fatal(err)
			}
			if i%10000 == 0 {
				resetRunner()
			}
		}
	})
	b.Run("impl=phlo", func(b *testing.B) {
		c := newPhlo(b, base)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := holdPhlo(ctx, c); err != nil {
				b.Fatal(err)
			}
			if i%10000 == 0 {
				resetRunner()
			}
		}
	})
	b.Run("impl=plivo-go", func(b *testing.B) {
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
		c := newPlivo(b, base, hc)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := holdPlivo(c); err != nil {
				b.Fatal(err)
			}
			if i%3000 == 0 {
				resetRunner()
			}
		}
	})
}

// TestRoundTrips counts the requests each client sends to hold a member
// from its IDs, on an in-process fake runner.
func TestRoundTrips(t *testing.T) {
	srv := phlotest.Start(t, phlotest.WithCredentials(authID, authToken))
	srv.AddMember(phloID, nodeID, memberAddress, phlo.RoleCustomer)

	if err := holdPhlo(context.Background(), newPhlo(t, srv.URL)); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("phlo: %d requests to hold a member, want 1", n)
	}
	srv.ResetRequests()

	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	if err := holdPlivo(newPlivo(t, srv.URL, hc)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Method+" "+r.Path)
	}
	want := []string{
		"GET /v1/phlo/" + phloID,
		"GET /v1/phlo/" + phloID + "/multi_party_call/" + nodeID,
		"POST /v1/phlo/" + phloID + "/multi_party_call/" + nodeID + "/members/" + memberAddress,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plivo-go sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	m, _ := srv.Member(phloID, nodeID, memberAddress)
	if !m.OnHold {
		t.Error("the member is not on hold")
	}
}

// TestPlivoGoSilentOnEmptyErrors documents the failure that this SDK
// fixes: plivo-go returns no error for an error status with an empty body.
func TestPlivoGoSilentOnEmptyErrors(t *testing.T) {
	srv := phlotest.Start(t, phlotest.WithCredentials(authID, authToken))
	srv.AddMember(phloID, nodeID, memberAddress, phlo.RoleCustomer)
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	mpc := newPlivo(t, srv.URL, hc)

	srv.Inject(phlotest.Fault{Status: 500})
	if _, err := mpc.Phlos.Get(phloID); err != nil {
		t.Errorf("plivo-go now reports the empty 500 (%v): update the comparison in README.md", err)
	}

	srv.Inject(phlotest.Fault{Status: 500})
	_, err := newPhlo(t, srv.URL, phlo.WithRetryPolicy(phlo.RetryPolicy{})).Phlo(phloID).Get(context.Background())
	if err == nil {
		t.Fatal("phlo returned no error for an empty 500")
	}
}

// tlsRunner returns the child's TLS base URL and a pool that trusts its
// certificate, httptest's own.
func tlsRunner(tb testing.TB) (string, *x509.CertPool) {
	tb.Helper()
	runnerURL(tb)
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.StartTLS()
	defer hs.Close()
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	return child.tls, roots
}

func handshakes(tb testing.TB, base string, hc *http.Client) int64 {
	tb.Helper()
	resp, err := hc.Get(base + "/_handshakes")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var n int64
	if _, err := fmt.Fscan(resp.Body, &n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkTLSBurst: goroutines share one client over TLS (HTTP/1.1), each
// holding the member from its IDs 100 times a round, a cold round first,
// then one warm round per op (plivo-go holds 10 times, not 100, since it
// pays three round trips and a handshake for most): raw net/http with a
// 128-connection idle pool,
// phlo with its own transport's settings (phlo.NewTransport), and plivo-go
// with net/http's default transport settings, which are what it uses when
// given no client. Compare with: benchstat -col /impl.
func BenchmarkTLSBurst(b *testing.B) {
	base, roots := tlsRunner(b)
	stats := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer stats.CloseIdleConnections()
	for _, goroutines := range []int{64, 256} {
		for _, impl := range []string{"raw", "phlo", "plivo-go"} {
			b.Run(fmt.Sprintf("goroutines=%d/impl=%s", goroutines, impl), func(b *testing.B) {
				var t *http.Transport
				if impl == "phlo" {
					t = phlo.NewTransport()
				} else {
					t = http.DefaultTransport.(*http.Transport).Clone()
					if impl == "raw" {
						t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 128
					}
				}
				t.TLSClientConfig.RootCAs = roots
				defer t.CloseIdleConnections()
				hc := &http.Client{Transport: t}
				var hold func(context.Context) error
				switch impl {
				case "raw":
					hold = func(ctx context.Context) error { return holdRaw(ctx, hc, base) }
				case "phlo":
					c := newPhlo(b, base, phlo.WithHTTPClient(hc))
					hold = func(ctx context.Context) error { return holdPhlo(ctx, c) }
				case "plivo-go":
					c := newPlivo(b, base, hc)
					hold = func(context.Context) error { return holdPlivo(c) }
				}
				holds := 100
				if impl == "plivo-go" {
					holds = 10
				}
				round := func() {
					var wg sync.WaitGroup
					for range goroutines {
						wg.Go(func() {
							for range holds {
								if err := hold(context.Background()); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
					resetRunner()
				}
				round() // cold
				before := handshakes(b, base, stats)
				b.ResetTimer()
				start := time.Now()
				for b.Loop() {
					round()
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(goroutines*holds*b.N)/elapsed.Seconds(), "holds/s")
				b.ReportMetric(float64(handshakes(b, base, stats)-before)*1000/float64(goroutines*holds*b.N), "handshakes/1k-holds")
			})
		}
	}
}

// TestCallbackSignaturesMatchPlivoGo: the callback package signs as Plivo's
// Go SDK does wherever the two agree on the rules, and each accepts the
// other's signature.
func TestCallbackSignaturesMatchPlivoGo(t *testing.T) {
	const token, nonce = "cross-check-token", "38102953"
	cases := []struct {
		method, uri string
		params      map[string]string
	}{
		{"GET", "https://example.com/plivo/events", nil},
		{"GET", "https://example.com/plivo/events?b=2&a=1", nil},
		{"GET", "https://example.com:8443/plivo/events?a=1", map[string]string{"c": "3"}},
		{"POST", "https://example.com/plivo/events", map[string]string{"To": "+14155550100", "From": "+14155550111", "CallUUID": "abc"}},
		{"POST", "https://example.com/plivo/events?x=1", map[string]string{"Event": "member_hold"}},
		{"POST", "https://example.com/plivo/events?x=1", nil},
		{"POST", "http://example.com/cb", map[string]string{"name": "Zoë 日本", "empty": ""}},
	}
	for _, c := range cases {
		values := url.Values{}
		for k, v := range c.params {
			values.Set(k, v)
		}
		want := plivo.ComputeSignatureV3(token, c.uri, c.method, nonce, c.params)
		if got := callback.SignatureV3(token, c.method, c.uri, nonce, values); got != want {
			t.Errorf("%s %s %v: signed %q, plivo-go %q", c.method, c.uri, c.params, got, want)
		}
		if !callback.ValidateV3(token, c.method, c.uri, nonce, want, values) {
			t.Errorf("%s %s: plivo-go's signature refused", c.method, c.uri)
		}
		if !plivo.ValidateSignatureV3(c.uri, nonce, c.method, callback.SignatureV3(token, c.method, c.uri, nonce, values), token, c.params) {
			t.Errorf("%s %s: plivo-go refuses ours", c.method, c.uri)
		}
	}
	uri := "https://example.com:8443/plivo/events?x=1"
	if got, want := callback.SignatureV2(token, uri, nonce), plivo.ComputeSignatureV2(token, uri, nonce); got != want {
		t.Errorf("V2: signed %q, plivo-go %q", got, want)
	}
	// Where they part: a key with several values. plivo-go signs the first
	// value alone; the callback package signs each, sorted, as Plivo's
	// Python SDK does.
	repeated := url.Values{"a": {"z", "y"}}
	if callback.SignatureV3(token, "POST", "https://example.com/cb", nonce, repeated) ==
		plivo.ComputeSignatureV3(token, "https://example.com/cb", "POST", nonce, map[string]string{"a": "z"}) {
		t.Error("plivo-go now signs every value of a repeated key: update the callback package's notes")
	}
}

// TestBridgeWireParity: the conference bridge's member actions go on the
// wire as Plivo's Python and PHP SDKs send them, by their source: POST
// /v1/phlo/{phlo_id}/conference_bridge/{node_id}/members/{member_address}
// with {"action": ...}. Python adds a trailing slash, which the runner, and
// the fake, accept.
func TestBridgeWireParity(t *testing.T) {
	srv := phlotest.Start(t, phlotest.WithCredentials(authID, authToken))
	const bridge = "bridge-1"
	srv.AddBridgeMember(phloID, bridge, memberAddress)
	m := newPhlo(t, srv.URL).Phlo(phloID).ConferenceBridge(bridge).Member(memberAddress)
	path := "/v1/phlo/" + phloID + "/conference_bridge/" + bridge + "/members/" + memberAddress
	for _, a := range []struct {
		action string
		call   func(context.Context) (*phlo.ActionResponse, error)
	}{{"mute", m.Mute}, {"unmute", m.Unmute}, {"hangup", m.Hangup}} {
		srv.ResetRequests()
		if _, err := a.call(context.Background()); err != nil {
			t.Fatal(a.action, err)
		}
		r := srv.Requests()[0]
		if r.Method != "POST" || r.Path != path || string(r.Body) != `{"action":"`+a.action+`"}` || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %s %s %s", a.action, r.Method, r.Path, r.Body)
		}
	}

	// Python's form, by hand.
	srv.AddBridgeMember(phloID, bridge, memberAddress)
	req, err := http.NewRequest("POST", srv.URL+path+"/", strings.NewReader(`{"action": "mute"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(authID, authToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer http.DefaultClient.CloseIdleConnections()
	if st, _ := srv.BridgeMember(phloID, bridge, memberAddress); resp.StatusCode != http.StatusCreated || !st.Muted {
		t.Errorf("Python's form: status %d, muted %v", resp.StatusCode, st.Muted)
	}
}
