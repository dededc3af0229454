package phlo_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/phlogo/phlo"
)

// The benchmarks send to a server in a child process, so that -benchmem
// counts the client's allocations only. The child is this test binary,
// started with benchServerEnv set.
const benchServerEnv = "PHLO_BENCH_SERVER"

const (
	benchPhlo, benchNode, benchMember = "2d3c5a1e-phlo", "8f1e-mpc", "+14155550100"
	benchReply                        = `{"api_id":"e0a3c6a2-3d4c-11ee-8a1c-0242ac110002","error":""}`
)

// serveBenchmarks is the child process: net/http servers that answer every
// request as the runner answers a member action, over plain HTTP, TLS with
// HTTP/1.1 only, and TLS with HTTP/2. The plain server also answers
// /_stats with the TLS handshakes each TLS server has made, and /v1/big with
// a 500 KB reply sent in chunks, with no Content-Length. It prints the three
// base URLs on one line and stops when its standard input closes, that is
// when the parent exits.
func serveBenchmarks() {
	var h1Handshakes, h2Handshakes atomic.Int64
	reply := []byte(benchReply)
	big := []byte(`{"api_id":"big","error":"","data":"` + strings.Repeat("x", 500_000) + `"}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/_stats":
			json.NewEncoder(w).Encode(map[string]int64{"h1": h1Handshakes.Load(), "h2": h2Handshakes.Load()})
		case "/v1/big":
			for chunk := range slices.Chunk(big, 32<<10) {
				w.Write(chunk)
				w.(http.Flusher).Flush()
			}
		default:
			w.WriteHeader(http.StatusCreated)
			w.Write(reply)
		}
	})
	cert := benchCert()
	var urls []string
	for _, srv := range []struct {
		protos  []string
		counter *atomic.Int64
	}{{nil, nil}, {[]string{"http/1.1"}, &h1Handshakes}, {[]string{"h2", "http/1.1"}, &h2Handshakes}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		hs := &http.Server{Handler: handler}
		if srv.protos == nil {
			urls = append(urls, "http://"+ln.Addr().String())
		} else {
			counter := srv.counter
			cfg := &tls.Config{Certificates: []tls.Certificate{cert.tls}, NextProtos: srv.protos,
				GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { counter.Add(1); return nil, nil }}
			if !slices.Contains(srv.protos, "h2") {
				hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // HTTP/1.1 only
			}
			ln = tls.NewListener(ln, cfg)
			urls = append(urls, "https://"+ln.Addr().String())
		}
		go hs.Serve(ln)
	}
	fmt.Println(strings.Join(urls, " "))
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// benchCertificate is the certificate httptest serves, for 127.0.0.1, with
// a pool that trusts it.
type benchCertificate struct {
	tls   tls.Certificate
	roots *x509.CertPool
}

func benchCert() benchCertificate {
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.StartTLS()
	defer hs.Close()
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	return benchCertificate{hs.TLS.Certificates[0], roots}
}

var bench struct {
	once sync.Once
	urls benchURLs
	err  error
	cmd  *exec.Cmd
	in   io.WriteCloser
}

// benchURLs are the child server's base URLs.
type benchURLs struct{ plain, h1, h2 string }

// benchURL starts the child server once for all benchmarks and returns its
// plain HTTP base URL.
func benchURL(b *testing.B) string { return benchServer(b).plain }

func benchServer(b *testing.B) benchURLs {
	b.Helper()
	bench.once.Do(func() {
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), benchServerEnv+"=1")
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			bench.err = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			bench.err = err
			return
		}
		if bench.err = cmd.Start(); bench.err != nil {
			return
		}
		bench.cmd, bench.in = cmd, in
		line, err := bufio.NewReader(out).ReadString('\n')
		if bench.err = err; err != nil {
			return
		}
		if urls := strings.Fields(line); len(urls) == 3 {
			bench.urls = benchURLs{urls[0], urls[1], urls[2]}
		} else {
			bench.err = fmt.Errorf("the child printed %q", line)
		}
	})
	if bench.err != nil {
		b.Fatalf("benchmark server: %v", bench.err)
	}
	return bench.urls
}

// handshakes returns the TLS handshakes the child's h1 or h2 server made.
func handshakes(b *testing.B, proto string) int64 {
	resp, err := http.Get(benchServer(b).plain + "/_stats")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		b.Fatal(err)
	}
	return stats[proto]
}

// stopBenchServer ends the child server, if one was started.
func stopBenchServer() {
	if bench.cmd != nil {
		bench.in.Close()
		bench.cmd.Wait()
	}
}

func benchClient(b *testing.B, url string) *phlo.RestClient {
	b.Helper()
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(url))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.CloseIdleConnections)
	return c
}

// rawTransport is the raw floor's transport: net/http's defaults with an
// idle pool as large as the SDK's, so that the floor is not handicapped.
func rawTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	return t
}

// rawHold is the same request as Member.Hold, written by hand with
// net/http: basic auth, a JSON body, a JSON decode, the body closed.
func rawHold(ctx context.Context, hc *http.Client, url string) error {
	body, err := json.Marshal(struct {
		Action string `json:"action"`
	}{"hold"})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		url+"/v1/phlo/"+benchPhlo+"/multi_party_call/"+benchNode+"/members/"+benchMember, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(testAuthID, testAuthToken)
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

func BenchmarkRawHold(b *testing.B) {
	url := benchURL(b)
	hc := &http.Client{Transport: rawTransport()}
	defer hc.CloseIdleConnections()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := rawHold(ctx, hc, url); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHold(b *testing.B) {
	c := benchClient(b, benchURL(b))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember).Hold(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// parallelism makes RunParallel use 64 goroutines whatever GOMAXPROCS is.
func parallelism() int {
	return max(1, 64/runtime.GOMAXPROCS(0))
}

// countNewConns returns a context whose requests count the connections
// they had to open rather than reuse.
func countNewConns(n *atomic.Int64) context.Context {
	return httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if !info.Reused {
				n.Add(1)
			}
		},
	})
}

func BenchmarkRawHoldParallel(b *testing.B) {
	url := benchURL(b)
	hc := &http.Client{Transport: rawTransport()}
	defer hc.CloseIdleConnections()
	var conns atomic.Int64
	ctx := countNewConns(&conns)
	b.ReportAllocs()
	b.SetParallelism(parallelism())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rawHold(ctx, hc, url); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(conns.Load()), "newconns")
}

// BenchmarkHoldParallel: 64 goroutines share one client with the SDK's
// default HTTP client. newconns is the number of connections opened over
// the whole run: at most one per goroutine when the pool is right.
func BenchmarkHoldParallel(b *testing.B) {
	c := benchClient(b, benchURL(b))
	var conns atomic.Int64
	ctx := countNewConns(&conns)
	b.ReportAllocs()
	b.SetParallelism(parallelism())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember).Hold(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(conns.Load()), "newconns")
}

var sinkMember *phlo.Member

// BenchmarkHandles: reaching a member from IDs costs no allocation when the
// handle does not outlive the call.
func BenchmarkHandles(b *testing.B) {
	c, err := phlo.NewRestClient(testAuthID, testAuthToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		m := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember)
		n += len(m.Address())
	}
	if n == 0 {
		b.Fatal("no work")
	}
}

// BenchmarkHandlesKept is the cost when the caller keeps the handle.
func BenchmarkHandlesKept(b *testing.B) {
	c, err := phlo.NewRestClient(testAuthID, testAuthToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkMember = c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember)
	}
}

// replayTransport answers every request in memory with the runner's reply
// to a member action, so that a benchmark measures the client's own work
// with no network and no server.
type replayTransport struct{}

func (replayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusCreated,
		Header:        http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(benchReply)),
		Body:          io.NopCloser(strings.NewReader(benchReply)),
		Request:       r,
	}, nil
}

// BenchmarkRawHoldNoNetwork is the floor's own cost, without the network.
func BenchmarkRawHoldNoNetwork(b *testing.B) {
	hc := &http.Client{Transport: replayTransport{}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := rawHold(ctx, hc, phlo.DefaultBaseURL); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHoldNoNetwork is the SDK's own cost, without the network: what
// it adds to a hold beside the round trip.
func BenchmarkHoldNoNetwork(b *testing.B) {
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithHTTPClient(&http.Client{Transport: replayTransport{}}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember).Hold(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
