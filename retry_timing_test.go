package phlo_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

// These tests run in a synctest bubble, where time is virtual: they check
// exactly how long the client waits, with no wall clock and no flakiness.
// The transport is httpmock's, in memory.

// timedRecorder answers with replies in turn and notes the virtual time of
// each request.
type timedRecorder struct {
	mu    sync.Mutex
	times []time.Time
}

func (r *timedRecorder) client(t *testing.T, replies []*http.Response, opts ...phlo.Option) *phlo.RestClient {
	t.Helper()
	rec := &recorder{reply: func(n int, req *http.Request) (*http.Response, error) {
		r.mu.Lock()
		r.times = append(r.times, time.Now())
		r.mu.Unlock()
		return replies[min(n, len(replies))-1], nil
	}}
	return mockClientFunc(t, rec, opts...)
}

func (r *timedRecorder) gaps() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(r.times); i++ {
		out = append(out, r.times[i].Sub(r.times[i-1]))
	}
	return out
}

func withRetryAfter(status int, v string) *http.Response {
	resp := httpmock.NewStringResponse(status, `{"api_id":"w","error":"wait"}`)
	resp.Header.Set("Retry-After", v)
	return resp
}

func TestRetryAfterIsWaitedExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		date := start.Add(7 * time.Second).UTC().Format(http.TimeFormat)
		var tr timedRecorder
		c := tr.client(t, []*http.Response{
			withRetryAfter(429, "3"),
			withRetryAfter(503, date),
			jsonResponse(201, `{"api_id":"ok","error":""}`),
		}, phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 2, MinDelay: time.Millisecond, MaxDelay: 10 * time.Second}))
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
		require.NoError(t, err)
		gaps := tr.gaps()
		require.Len(t, gaps, 2)
		assert.Equal(t, 3*time.Second, gaps[0], "Retry-After in seconds")
		// The date form has whole seconds: the wait ends on the named second.
		assert.Equal(t, start.Add(7*time.Second).Truncate(time.Second), start.Add(gaps[0]+gaps[1]).Truncate(time.Second), "Retry-After as an HTTP date")
	})
}

func TestBackoffGrowsWithinItsBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr timedRecorder
		p := phlo.RetryPolicy{MaxRetries: 5, MinDelay: 100 * time.Millisecond, MaxDelay: time.Second}
		c := tr.client(t, []*http.Response{httpmock.NewStringResponse(503, ``)}, phlo.WithRetryPolicy(p))
		_, err := c.Phlo("p").Get(context.Background())
		require.ErrorIs(t, err, phlo.ErrServer)
		gaps := tr.gaps()
		require.Len(t, gaps, 5)
		for i, g := range gaps {
			ceiling := min(p.MaxDelay, p.MinDelay<<i)
			assert.GreaterOrEqual(t, g, p.MinDelay, "wait %d", i+1)
			assert.LessOrEqual(t, g, ceiling, "wait %d", i+1)
		}
	})
}

func TestCancelEndsTheBackoffAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr timedRecorder
		c := tr.client(t, []*http.Response{httpmock.NewStringResponse(503, ``)},
			phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 3, MinDelay: time.Hour, MaxDelay: time.Hour}), phlo.WithTimeout(0))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Unhold(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, phlo.ErrServer)
		assert.Equal(t, time.Second, time.Since(start), "returned the moment the context was cancelled")
		assert.Len(t, tr.times, 1)
	})
}

func TestWithTimeoutCoversRetriesAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr timedRecorder
		c := tr.client(t, []*http.Response{httpmock.NewStringResponse(503, ``)},
			phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 10, MinDelay: 4 * time.Second, MaxDelay: 4 * time.Second}),
			phlo.WithTimeout(10*time.Second))
		start := time.Now()
		_, err := c.Phlo("p").Get(context.Background())
		require.ErrorIs(t, err, phlo.ErrServer)
		// Attempts at 0s, 4s and 8s; a fourth wait would end past 10s, so
		// the error comes back at 8s instead of sleeping into the deadline.
		assert.Len(t, tr.times, 3)
		assert.Equal(t, 8*time.Second, time.Since(start))
	})
}

func TestNoRetryWhenRetryAfterOutlastsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr timedRecorder
		c := tr.client(t, []*http.Response{withRetryAfter(429, "20")},
			phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 3, MinDelay: time.Second, MaxDelay: time.Minute}))
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Phlo("p").Get(ctx)
		var apiErr *phlo.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 20*time.Second, apiErr.RetryAfter)
		assert.Zero(t, time.Since(start), "returned at once")
		assert.Len(t, tr.times, 1)
	})
}

func TestDefaultPolicy(t *testing.T) {
	assert.Equal(t, phlo.RetryPolicy{MaxRetries: 2, MinDelay: 250 * time.Millisecond, MaxDelay: 5 * time.Second}, phlo.DefaultRetryPolicy())
	synctest.Test(t, func(t *testing.T) {
		var tr timedRecorder
		rec := &recorder{reply: func(int, *http.Request) (*http.Response, error) {
			tr.mu.Lock()
			tr.times = append(tr.times, time.Now())
			tr.mu.Unlock()
			return httpmock.NewStringResponse(503, ``), nil
		}}
		// mockClientFunc turns retries off; put the default back.
		c := mockClientFunc(t, rec, phlo.WithRetryPolicy(phlo.DefaultRetryPolicy()))
		_, err := c.Phlo("p").Get(context.Background())
		var apiErr *phlo.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 3, apiErr.Attempts)
		gaps := tr.gaps()
		require.Len(t, gaps, 2)
		assert.GreaterOrEqual(t, gaps[0], 250*time.Millisecond)
		assert.LessOrEqual(t, gaps[0], 250*time.Millisecond)
		assert.GreaterOrEqual(t, gaps[1], 250*time.Millisecond)
		assert.LessOrEqual(t, gaps[1], 500*time.Millisecond)
	})
}
