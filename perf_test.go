package phlo_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
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

// countingServer answers like the runner and counts the connections opened
// to it.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(benchReply))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// TestParallelHoldsReuseConnections: 64 goroutines sharing one client with
// the SDK's default HTTP client keep reusing the connections they opened.
// While they all start at once net/http may dial a few spare connections,
// which then stay in the pool; after that, no hold opens a connection.
func TestParallelHoldsReuseConnections(t *testing.T) {
	srv, conns := countingServer(t)
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(srv.URL))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	const goroutines, holds = 64, 25
	round := func() {
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := c.Phlo(benchPhlo).MultiPartyCall(benchNode).Member(benchMember)
				for range holds {
					_, err := m.Hold(context.Background())
					assert.NoError(t, err)
				}
			}()
		}
		wg.Wait()
	}
	round()
	first := conns.Load()
	assert.Less(t, first, int64(2*goroutines), "connections churned during the first round")
	round()
	assert.Equal(t, first, conns.Load(), "the second round opened new connections")
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
