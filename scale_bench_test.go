package phlo_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/phlogo/phlo"
)

// tlsTransport returns the transport a benchmark's implementation sends
// through, trusting the child's certificate: the SDK's (NewTransport, the
// settings of the pool every default client shares), or the raw floor's
// (net/http's defaults with a 128-connection idle pool).
func tlsTransport(impl string) *http.Transport {
	roots := benchCert().roots
	if impl == "raw" {
		t := rawTransport()
		t.TLSClientConfig = &tls.Config{RootCAs: roots}
		return t
	}
	t := phlo.NewTransport()
	t.TLSClientConfig.RootCAs = roots
	return t
}

// holdFunc holds the benchmark member once.
type holdFunc func(context.Context) error

func newHold(b *testing.B, impl, url string, t http.RoundTripper) holdFunc {
	hc := &http.Client{Transport: t}
	if impl == "raw" {
		return func(ctx context.Context) error { return rawHold(ctx, hc, url) }
	}
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(url), phlo.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	m := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember)
	return func(ctx context.Context) error { _, err := m.Hold(ctx); return err }
}

// burst makes goroutines hold holds times each, all at once, and returns
// every hold's latency.
func burst(b *testing.B, goroutines, holds int, hold holdFunc) []time.Duration {
	lat := make([][]time.Duration, goroutines)
	var wg sync.WaitGroup
	ctx := context.Background()
	for g := range goroutines {
		lat[g] = make([]time.Duration, 0, holds)
		wg.Go(func() {
			for range holds {
				start := time.Now()
				if err := hold(ctx); err != nil {
					b.Error(err)
					return
				}
				lat[g] = append(lat[g], time.Since(start))
			}
		})
	}
	wg.Wait()
	return slices.Concat(lat...)
}

func p99(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// BenchmarkTLSBurst: goroutines share one client over TLS, HTTP/1.1 or
// HTTP/2, each holding 100 times per round. A cold round fills the pool
// first; each op is then a warm round. holds/s is the throughput,
// handshakes/op the TLS handshakes the server made in a warm round, p99-ms
// the 99th percentile of one hold's latency.
//
// Over HTTP/1.1, handshakes/op can be above zero on a busy machine: net/http
// closes a connection whose request write it has not seen finish within
// 50 ms of reading the reply (maxWriteWaitBeforeConnReuse), so a writer
// goroutine kept waiting for a CPU costs a new connection. The pool's tests
// run in virtual time for that reason (see withVirtualTime).
func BenchmarkTLSBurst(b *testing.B) {
	urls := benchServer(b)
	for _, proto := range []string{"h1", "h2"} {
		url := map[string]string{"h1": urls.h1, "h2": urls.h2}[proto]
		for _, goroutines := range []int{64, 256, 1024} {
			for _, impl := range []string{"raw", "phlo"} {
				b.Run(fmt.Sprintf("proto=%s/goroutines=%d/impl=%s", proto, goroutines, impl), func(b *testing.B) {
					t := tlsTransport(impl)
					defer t.CloseIdleConnections()
					hold := newHold(b, impl, url, t)
					const holds = 100
					burst(b, goroutines, holds, hold) // cold
					before := handshakes(b, proto)
					var lat []time.Duration
					b.ResetTimer()
					for b.Loop() {
						lat = append(lat, burst(b, goroutines, holds, hold)...)
					}
					b.StopTimer()
					b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "holds/s")
					b.ReportMetric(float64(handshakes(b, proto)-before)/float64(b.N), "handshakes/op")
					b.ReportMetric(float64(p99(lat))/float64(time.Millisecond), "p99-ms")
				})
			}
		}
	}
}

// BenchmarkTenants: 1,000 clients, one per tenant, each built and holding
// once, all at once, over TLS. "shared" is how every client built without
// WithHTTPClient sends: through one pool. "own" gives each client a
// transport of its own, as the SDK did before it shared one. handshakes/op
// is the TLS handshakes per 1,000 holds.
func BenchmarkTenants(b *testing.B) {
	urls := benchServer(b)
	const tenants = 1000
	for _, impl := range []string{"shared", "own"} {
		b.Run("impl="+impl, func(b *testing.B) {
			shared := tlsTransport("phlo")
			defer shared.CloseIdleConnections()
			var own []*http.Transport
			defer func() {
				for _, t := range own {
					t.CloseIdleConnections()
				}
			}()
			before := handshakes(b, "h1")
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for range tenants {
					t := shared
					if impl == "own" {
						t = tlsTransport("phlo")
						own = append(own, t)
					}
					hold := newHold(b, "phlo", urls.h1, t)
					wg.Go(func() {
						if err := hold(context.Background()); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			b.StopTimer()
			b.ReportMetric(float64(handshakes(b, "h1")-before)/float64(b.N), "handshakes/op")
		})
	}
}

// BenchmarkChunkedReply: a 500 KB reply with no Content-Length, sent in
// chunks. The floor ("raw") reads it with io.ReadAll and decodes the
// runner's envelope from it, as a hand-written client must to see an
// "error"; "readall" only reads it. The SDK reads it within its 1 MiB cap
// and checks the envelope (Do with a nil out).
func BenchmarkChunkedReply(b *testing.B) {
	url := benchServer(b).plain
	for _, impl := range []string{"readall", "raw", "phlo"} {
		b.Run("impl="+impl, func(b *testing.B) {
			t := rawTransport()
			defer t.CloseIdleConnections()
			hc := &http.Client{Transport: t}
			c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(url), phlo.WithHTTPClient(hc))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if impl == "phlo" {
					if err := c.Do(ctx, phlo.Request{Method: "GET", Path: []string{"big"}}, nil); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if err := rawGet(ctx, hc, url+"/v1/big", impl == "raw"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rawGet reads a reply whole with io.ReadAll, and decodes its envelope if
// asked.
func rawGet(ctx context.Context, hc *http.Client, url string, decode bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(testAuthID, testAuthToken)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.ContentLength != -1 || len(data) < 500_000 {
		return fmt.Errorf("a reply of %d bytes, Content-Length %d", len(data), resp.ContentLength)
	}
	if !decode {
		return nil
	}
	var env struct {
		APIID string `json:"api_id"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &env); err != nil || env.Error != "" {
		return fmt.Errorf("%v %q", err, env.Error)
	}
	return nil
}
