package phlo_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

// TestHandlesDoNotAllocate: reaching a member from IDs is free when the
// handle does not outlive the call.
func TestHandlesDoNotAllocate(t *testing.T) {
	c, err := phlo.NewRestClient(testAuthID, testAuthToken)
	require.NoError(t, err)
	n := 0
	allocs := testing.AllocsPerRun(1000, func() {
		m := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember)
		n += len(m.Address()) + len(m.NodeID()) + len(m.PhloID())
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, n)
}

// connCounter counts the connections a server saw opened and closed.
type connCounter struct{ opened, closed atomic.Int64 }

func (c *connCounter) track(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.closed.Add(1)
	}
}

// countingServer answers like the runner and counts the connections opened
// to it.
func countingServer(t *testing.T) (*httptest.Server, *connCounter) {
	var conns connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(benchReply))
	}))
	srv.Config.ConnState = conns.track
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// TestParallelHoldsReuseConnections: goroutines sharing one client with the
// SDK's default HTTP client never open a connection that is closed again,
// and never more than the pool's 128 per host, however many there are and
// however long they run. (While goroutines start at once, net/http may
// dial a spare connection that then joins the pool; the bound holds all
// the same.)
func TestParallelHoldsReuseConnections(t *testing.T) {
	for _, goroutines := range []int{64, 256} {
		t.Run(fmt.Sprint(goroutines), func(t *testing.T) {
			srv, conns := countingServer(t)
			c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
			require.NoError(t, err)
			withVirtualTime(t, srv, func(t *testing.T) {
				for range 3 {
					parallelHolds(t, c, goroutines, 25)
				}
				conns.checkPooled(t)
			})
		})
	}
}

// withVirtualTime runs f, which sends to srv, in a synctest bubble, and
// closes srv's connections before the bubble ends, since the client's
// goroutines for them belong to it.
//
// The pool tests need it. net/http puts a connection back in the pool only
// once the goroutine that wrote the request has said that the write
// succeeded; if the reply has been read first, it waits 50 ms for that word
// (maxWriteWaitBeforeConnReuse in net/http's transport.go) and then closes
// the connection, which the next request replaces with a new one. On a busy
// machine (two cores, other builds, hundreds of goroutines under the race
// detector) the writer can wait longer than that for a CPU, and the pool
// tests saw connections "opened and closed again" and 129 or 130
// connections opened. In a bubble that timer runs on the fake clock, which
// moves only when every goroutine of the bubble is blocked: the writer,
// ready to run, always says its word first. Everything else (the sockets,
// the pool, its bounds) is real, so a pool that turns connections away still
// fails the tests.
func withVirtualTime(t *testing.T, srv *httptest.Server, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		defer srv.CloseClientConnections()
		f(t)
	})
}

// parallelHolds makes goroutines hold a member holds times each, on c.
func parallelHolds(t *testing.T, c *phlo.RestClient, goroutines, holds int) {
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			m := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember)
			for range holds {
				_, err := m.Hold(context.Background())
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
}

// checkPooled fails if more connections were opened than the SDK's pool
// holds for one host, or if any was opened and closed again.
func (c *connCounter) checkPooled(t *testing.T) {
	t.Helper()
	assert.LessOrEqual(t, c.opened.Load(), int64(128), "more connections than the pool holds")
	assert.Zero(t, c.closed.Load(), "connections were opened and closed again")
}

// TestMemoryStaysFlat: many holds on one client leave the heap and the
// goroutine count where they started.
func TestMemoryStaysFlat(t *testing.T) {
	holds := 100_000
	if testing.Short() || raceEnabled {
		holds = 5_000 // the race detector makes each hold many times slower
	}
	srv, _ := countingServer(t)
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	m := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember)
	ctx := context.Background()

	// Warm up: the connection pool and the runtime's caches fill once.
	for range 1000 {
		_, err := m.Hold(ctx)
		require.NoError(t, err)
	}
	heap0, g0 := settle()
	for range holds {
		if _, err := m.Hold(ctx); err != nil {
			t.Fatal(err)
		}
	}
	heap1, g1 := settle()
	t.Logf("%d holds: heap %d -> %d bytes, goroutines %d -> %d", holds, heap0, heap1, g0, g1)
	assert.Less(t, int64(heap1)-int64(heap0), int64(256<<10), "the heap grew")
	assert.LessOrEqual(t, g1, g0, "goroutines were left behind")
}

// settle collects garbage and returns the live heap and goroutine count.
func settle() (uint64, int) {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}

// TestTenantsShareOnePool: a thousand clients, one per tenant, built
// without WithHTTPClient, start no goroutine and open no connection; holding
// all at once they open no more connections than the pool's bound, never
// one per client; and once dropped, what is left is the pool's, whatever
// the number of clients.
func TestTenantsShareOnePool(t *testing.T) {
	const tenants = 1000
	srv, conns := countingServer(t)
	_, g0 := settle()
	heap0, _ := settle()
	clients := make([]*phlo.RestClient, tenants)
	for i := range clients {
		c, err := phlo.NewRestClient(fmt.Sprintf("MA%018d", i), testAuthToken, phlo.WithBaseURL(srv.URL))
		require.NoError(t, err)
		clients[i] = c
	}
	heap1, g1 := settle()
	assert.Equal(t, g0, g1, "building clients started goroutines")
	assert.Zero(t, conns.opened.Load(), "building clients opened connections")
	perClient := (int64(heap1) - int64(heap0)) / tenants
	t.Logf("%d bytes of heap per client", perClient)
	assert.Less(t, perClient, int64(2<<10), "a client costs more than 2 KiB")

	holdAll := func(t *testing.T) {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() {
				<-start
				_, err := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember).Hold(context.Background())
				assert.NoError(t, err)
			})
		}
		close(start)
		wg.Wait()
	}
	withVirtualTime(t, srv, func(t *testing.T) {
		holdAll(t)
		conns.checkPooled(t)
		t.Logf("%d tenants holding at once opened %d connections", tenants, conns.opened.Load())
	})

	// Again in real time, leaving the pool open to count what it keeps.
	holdAll(t)
	clients = nil
	_, g2 := settle()
	// Each pooled connection has two goroutines in the client and one in
	// the server, which runs in this process.
	live := conns.opened.Load() - conns.closed.Load()
	assert.LessOrEqual(t, g2, g0+3*int(live), "more goroutines than the pool's connections need")
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
	require.NoError(t, err)
	c.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > g0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), g0, "goroutines outlived the pool")
}
