package callback_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo/callback"
)

// recordErr returns an option that records the error of each refusal and
// then refuses as the default does.
func recordErr(got *error) callback.Option {
	return callback.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		*got = err
		callback.DefaultErrorHandler(w, r, err)
	})
}

func TestReplayRefused(t *testing.T) {
	t.Parallel()
	var got error
	h := callback.Verify(token, echo, atExample, recordErr(&got))
	r := signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	again := r.Clone(r.Context())
	again.Body = http.NoBody
	again2 := signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	again2.Header = r.Header.Clone()
	assert.Equal(t, http.StatusOK, serve(h, r).Code)
	w := serve(h, again2)
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, "Conflict\n", w.Body.String())
	require.ErrorIs(t, got, callback.ErrReplayed)
	assert.Contains(t, got.Error(), r.Header.Get(callback.HeaderNonceV3), "the nonce is named")
	assert.Contains(t, got.Error(), "1h0m0s", "the window is named")
}

// TestForgeryUsesUpNothing: a nonce is claimed only once its signature
// matched, so a forged request with a genuine nonce leaves the genuine
// request its way.
func TestForgeryUsesUpNothing(t *testing.T) {
	t.Parallel()
	h := callback.Verify(token, echo, atExample)
	genuine := signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	forged := signed(t, "POST", "https://example.com/cb", url.Values{"a": {"b"}})
	forged.Header.Set(callback.HeaderNonceV3, genuine.Header.Get(callback.HeaderNonceV3))
	assert.Equal(t, http.StatusForbidden, serve(h, forged).Code)
	assert.Equal(t, http.StatusOK, serve(h, genuine).Code)
}

// TestNonceReleasedWhenTheHandlerFails: a 5xx or a panic releases the
// nonce (the panic goes on up), so that Plivo's retry of the same request
// is accepted; any other answer keeps it claimed.
func TestNonceReleasedWhenTheHandlerFails(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fail    func(w http.ResponseWriter)
		release bool
	}{
		{"500", func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, true},
		{"503 after a 103", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}, true},
		{"panic", func(http.ResponseWriter) { panic("handler bug") }, true},
		{"ErrAbortHandler", func(http.ResponseWriter) { panic(http.ErrAbortHandler) }, true},
		{"400", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) }, false},
		{"200 by writing", func(w http.ResponseWriter) { w.Write([]byte("ok")) }, false},
		{"200 by flushing, then 500", func(w http.ResponseWriter) {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusInternalServerError)
		}, false},
		{"nothing written", func(http.ResponseWriter) {}, false},
	}
	for _, c := range cases {
		var calls atomic.Int32
		h := callback.Verify(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				c.fail(w)
			}
		}), atExample)
		first := signed(t, "GET", "https://example.com/cb?a=1", nil)
		retry, third := first.Clone(context.Background()), first.Clone(context.Background())
		func() {
			defer func() { recover() }() // a panic goes on through the Verifier
			serve(h, first)
		}()
		require.EqualValues(t, 1, calls.Load(), c.name)
		if !c.release {
			assert.Equal(t, http.StatusConflict, serve(h, retry).Code, c.name)
			continue
		}
		assert.Equal(t, http.StatusOK, serve(h, retry).Code, "%s: the retry", c.name)
		assert.Equal(t, http.StatusConflict, serve(h, third).Code, "%s: after the retry succeeded", c.name)
	}
}

func TestPanicGoesOn(t *testing.T) {
	t.Parallel()
	h := callback.Verify(token, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }), atExample)
	assert.PanicsWithValue(t, "handler bug", func() { serve(h, signed(t, "GET", "https://example.com/cb", nil)) })
}

func TestNonceTooLong(t *testing.T) {
	t.Parallel()
	var got error
	h := callback.Verify(token, echo, atExample, recordErr(&got))
	for _, n := range []int{callback.MaxNonceBytes, callback.MaxNonceBytes + 1} {
		nonce := strings.Repeat("7", n)
		body := &recordingBody{r: strings.NewReader("a=b")}
		r := httptest.NewRequest("POST", "https://example.com/cb", body)
		r.Header.Set("Content-Type", form)
		r.Header.Set(callback.HeaderNonceV3, nonce)
		r.Header.Set(callback.HeaderSignatureV3, callback.SignatureV3(token, "POST", "https://example.com/cb", nonce, url.Values{"a": {"b"}}))
		w := serve(h, r)
		if n == callback.MaxNonceBytes {
			assert.Equal(t, http.StatusOK, w.Code)
			continue
		}
		assert.Equal(t, http.StatusForbidden, w.Code)
		assert.ErrorIs(t, got, callback.ErrNonceTooLong)
		assert.Zero(t, body.reads, "refused before the body is read")
	}
}

// failingStore is a NonceStore that is down.
type failingStore struct{ released atomic.Int32 }

var errStoreDown = errors.New("store down")

func (*failingStore) Claim(context.Context, string, time.Duration) (bool, error) {
	return false, errStoreDown
}

func (s *failingStore) Release(context.Context, string) error {
	s.released.Add(1)
	return errStoreDown
}

func TestNonceStoreFails(t *testing.T) {
	t.Parallel()
	var got error
	reached := false
	h := callback.Verify(token, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }),
		atExample, recordErr(&got), callback.WithNonceStore(&failingStore{}, time.Minute))
	w := serve(h, signed(t, "GET", "https://example.com/cb", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "Service Unavailable\n", w.Body.String())
	assert.False(t, reached)
	assert.ErrorIs(t, got, callback.ErrNonceStore)
	assert.ErrorIs(t, got, errStoreDown)
}

// storeCall is one call a recordingStore saw.
type storeCall struct {
	op, nonce string
	ttl       time.Duration
	ctxDone   bool
}

// recordingStore wraps the memory store and records the calls it gets.
type recordingStore struct {
	callback.NonceStore
	mu    sync.Mutex
	calls []storeCall
}

func (s *recordingStore) Claim(ctx context.Context, nonce string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	s.calls = append(s.calls, storeCall{"claim", nonce, ttl, ctx.Err() != nil})
	s.mu.Unlock()
	return s.NonceStore.Claim(ctx, nonce, ttl)
}

func (s *recordingStore) Release(ctx context.Context, nonce string) error {
	s.mu.Lock()
	s.calls = append(s.calls, storeCall{"release", nonce, 0, ctx.Err() != nil})
	s.mu.Unlock()
	return s.NonceStore.Release(ctx, nonce)
}

// TestStoreCalls: the store is given the nonce and the window, and a
// release even after the request's context ended; with V2 on, a request
// signed with both claims both nonces.
func TestStoreCalls(t *testing.T) {
	t.Parallel()
	store := &recordingStore{NonceStore: callback.NewMemoryNonceStore(10)}
	ctx, cancel := context.WithCancel(context.Background())
	h := callback.Verify(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the client went away
		w.WriteHeader(http.StatusBadGateway)
	}), callback.WithAllowedHosts("a.example.com"), callback.WithNonceStore(store, 90*time.Second), callback.WithSignatureV2())
	r := capturedGET().WithContext(ctx)
	n3, n2 := r.Header.Get(callback.HeaderNonceV3), r.Header.Get(callback.HeaderNonceV2)
	assert.Equal(t, http.StatusBadGateway, serve(h, r).Code)
	assert.Equal(t, []storeCall{
		{"claim", "v3:" + n3, 90 * time.Second, false},
		{"claim", "v2:" + n2, 90 * time.Second, false},
		{"release", "v3:" + n3, 0, false},
		{"release", "v2:" + n2, 0, false},
	}, store.calls)
}

// TestReplayWindow: a nonce is remembered for the window, and accepted
// again after it; in virtual time.
func TestReplayWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opts   []callback.Option
		window time.Duration
	}{
		{nil, time.Hour},
		{[]callback.Option{callback.WithNonceStore(callback.NewMemoryNonceStore(10), 10*time.Minute)}, 10 * time.Minute},
	} {
		synctest.Test(t, func(t *testing.T) {
			h := callback.Verify(token, echo, append(c.opts, atExample)...)
			r := signed(t, "GET", "https://example.com/cb?a=1", nil)
			send := func() int { return serve(h, r.Clone(context.Background())).Code }
			assert.Equal(t, http.StatusOK, send())
			time.Sleep(c.window - time.Second)
			assert.Equal(t, http.StatusConflict, send(), "within the window")
			time.Sleep(time.Second)
			assert.Equal(t, http.StatusOK, send(), "after the window")
			assert.Equal(t, http.StatusConflict, send(), "claimed again")
		})
	}
}

// TestMemoryStoreIsBounded: past its cap, the oldest claim is dropped
// first.
func TestMemoryStoreIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := callback.NewMemoryNonceStore(3)
	claim := func(n string) bool {
		ok, err := s.Claim(ctx, n, time.Hour)
		require.NoError(t, err)
		return ok
	}
	for _, n := range []string{"a", "b", "c", "d"} {
		require.True(t, claim(n), n)
	}
	assert.False(t, claim("d"))
	assert.False(t, claim("c"))
	assert.False(t, claim("b"))
	assert.True(t, claim("a"), "the oldest was dropped")
	assert.True(t, claim("b"), "then the next oldest")
	require.NoError(t, s.Release(ctx, "a"))
	assert.True(t, claim("a"), "released")
	require.NoError(t, s.Release(ctx, "never-claimed"))
}

// TestMemoryStoreOneClaimWins: of concurrent claims of one nonce, exactly
// one succeeds.
func TestMemoryStoreOneClaimWins(t *testing.T) {
	t.Parallel()
	s := callback.NewMemoryNonceStore(100)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if ok, _ := s.Claim(context.Background(), "n", time.Hour); ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, wins.Load())
}

// TestResponseWriterStillWorks: behind the Verifier, a handler still
// flushes, and http.ResponseController reaches the server's writer.
func TestResponseWriterStillWorks(t *testing.T) {
	t.Parallel()
	results := make(chan error, 2)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = callback.Verify(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isFlusher := w.(http.Flusher)
		rc := http.NewResponseController(w)
		results <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if isFlusher {
			results <- rc.Flush()
		} else {
			results <- errors.New("not an http.Flusher")
		}
	}), callback.WithAllowedHosts(srv.Listener.Addr().String()))
	srv.Start()
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/cb", nil)
	require.NoError(t, err)
	for k, v := range signed(t, "GET", srv.URL+"/cb", nil).Header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NoError(t, <-results, "SetWriteDeadline")
	assert.NoError(t, <-results, "Flush")
}
