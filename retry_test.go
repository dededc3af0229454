package phlo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// fast retries quickly so that the suite stays short.
var fast = phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 2, MinDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond})

const (
	pID, nID, customer, agent = "phlo-1", "node-1", "+14155550100", "sip:agent@phone.plivo.com"
)

// fakeCall starts a fake runner with an agent and a customer in a call.
func fakeCall(t *testing.T) *phlotest.Server {
	t.Helper()
	srv := phlotest.Start(t)
	srv.AddMember(pID, nID, agent, phlo.RoleAgent)
	srv.AddMember(pID, nID, customer, phlo.RoleCustomer)
	return srv
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Status: 503, Body: `{"api_id":"busy","error":"service unavailable"}`})
	resp, err := newClient(t, srv, fast).Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(context.Background())
	require.NoError(t, err)
	assert.NotEmpty(t, resp.APIID)

	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].Body, reqs[1].Body, "the body is sent again in full")
	assert.Equal(t, `{"action":"hold"}`, string(reqs[1].Body))
	m, ok := srv.Member(pID, nID, customer)
	require.True(t, ok)
	assert.True(t, m.OnHold)
}

func TestRetriesRunOut(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Status: 503, Times: 10})
	_, err := newClient(t, srv, fast).Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(context.Background())
	require.ErrorIs(t, err, phlo.ErrServer)
	require.ErrorIs(t, err, phlo.ErrOutcomeUnknown)
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, 3, apiErr.Attempts)
	assert.Len(t, srv.Requests(), 3, "one attempt and two retries")
	m, ok := srv.Member(pID, nID, customer)
	require.True(t, ok)
	assert.False(t, m.OnHold, "the fake did not act")
}

func TestRetryableStatusesForIdempotentRequests(t *testing.T) {
	t.Parallel()
	for _, status := range []int{429, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := fakeCall(t)
			srv.Inject(phlotest.Fault{Status: status})
			_, err := newClient(t, srv, fast).Phlo(pID).MultiPartyCall(nID).Get(context.Background())
			require.NoError(t, err)
			assert.Len(t, srv.Requests(), 2)
		})
	}
}

func TestNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 405, 500, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := fakeCall(t)
			srv.Inject(phlotest.Fault{Status: status, Times: 5})
			_, err := newClient(t, srv, fast).Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(context.Background())
			var apiErr *phlo.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, status, apiErr.StatusCode)
			assert.Len(t, srv.Requests(), 1)
		})
	}
}

// TestNonIdempotentActionsAreSentOnce: with no idempotency key, an action
// that may have reached the server is never sent again.
func TestNonIdempotentActionsAreSentOnce(t *testing.T) {
	t.Parallel()
	params := phlo.CallParams{TriggerSource: agent, To: "+14155550199"}
	actions := map[string]func(c *phlo.RestClient) error{
		"call": func(c *phlo.RestClient) error {
			_, err := c.Phlo(pID).MultiPartyCall(nID).Call(ctx(), params)
			return err
		},
		"warm_transfer": func(c *phlo.RestClient) error {
			_, err := c.Phlo(pID).MultiPartyCall(nID).WarmTransfer(ctx(), params)
			return err
		},
		"cold_transfer": func(c *phlo.RestClient) error {
			_, err := c.Phlo(pID).MultiPartyCall(nID).ColdTransfer(ctx(), params)
			return err
		},
		"resume_call": func(c *phlo.RestClient) error {
			_, err := c.Phlo(pID).MultiPartyCall(nID).Member(agent).ResumeCall(ctx())
			return err
		},
		"voicemail_drop": func(c *phlo.RestClient) error {
			_, err := c.Phlo(pID).MultiPartyCall(nID).Member(customer).VoicemailDrop(ctx())
			return err
		},
		"run": func(c *phlo.RestClient) error { _, err := c.Phlo(pID).Run(ctx(), nil); return err },
		"Do POST": func(c *phlo.RestClient) error {
			return c.Do(ctx(), phlo.Request{Method: "POST", Path: []string{"phlo", pID}}, nil)
		},
	}
	faults := map[string]phlotest.Fault{
		"503":       {Status: 503, Times: 5},
		"502 HTML":  {Status: 502, Times: 5, Body: "<html><body>Bad Gateway</body></html>"},
		"reset":     {Truncate: true, Status: 201, Body: `{"api_id":`, Times: 5},
		"dropped":   {Drop: true, Times: 5},
		"429 after": {Status: 429, Times: 1, RetryAfter: time.Hour},
	}
	for name, act := range actions {
		for fname, f := range faults {
			t.Run(name+"/"+fname, func(t *testing.T) {
				t.Parallel()
				srv := fakeCall(t)
				srv.Inject(f)
				err := act(newClient(t, srv, fast))
				require.Error(t, err)
				assert.Len(t, srv.Requests(), 1, "exactly one request reaches the server")
			})
		}
	}
}

func TestIdempotentDoIsRetried(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Status: 503})
	srv.Inject(phlotest.Fault{Drop: true})
	var out phlo.ActionResponse
	err := newClient(t, srv, fast).Do(ctx(), phlo.Request{
		Method:     "POST",
		Path:       []string{"phlo", pID, "multi_party_call", nID, "members", customer},
		Body:       map[string]string{"action": "hold"},
		Idempotent: true,
	}, &out)
	require.NoError(t, err)
	assert.NotEmpty(t, out.APIID)
	assert.Len(t, srv.Requests(), 3)
}

func TestIdempotentActionsSurviveBrokenConnections(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]phlotest.Fault{
		"dropped":      {Drop: true},
		"HTML 502":     {Status: 502, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		"504 then 503": {Status: 504, Times: 2},
		"429":          {Status: 429, Body: `{"api_id":"rl","error":"slow down"}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := fakeCall(t)
			srv.Inject(f)
			member := newClient(t, srv, fast).Phlo(pID).MultiPartyCall(nID).Member(customer)
			_, err := member.Hold(ctx())
			require.NoError(t, err)
			m, _ := srv.Member(pID, nID, customer)
			assert.True(t, m.OnHold)
			assert.Equal(t, 0, srv.PendingFaults())
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Status: 429, RetryAfter: time.Second, Body: `{"api_id":"rl","error":"too many requests"}`})
	c := newClient(t, srv, phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 1, MinDelay: time.Millisecond, MaxDelay: 2 * time.Second}))
	_, err := c.Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(ctx())
	require.NoError(t, err, "a Retry-After within MaxDelay is waited for")
	assert.Len(t, srv.Requests(), 2)
}

func TestRetryAfterLongerThanMaxDelayReturnsAtOnce(t *testing.T) {
	t.Parallel()
	for name, header := range map[string]func() string{
		"seconds":   func() string { return "120" },
		"HTTP date": func() string { return time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := fakeCall(t)
			srv.Inject(phlotest.Fault{Status: 429, Header: http.Header{"Retry-After": {header()}}})
			c := newClient(t, srv, phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 3, MinDelay: time.Millisecond, MaxDelay: time.Second}))
			_, err := c.Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(ctx())
			require.ErrorIs(t, err, phlo.ErrRateLimited)
			var apiErr *phlo.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.InDelta(t, 120, apiErr.RetryAfter.Seconds(), 2)
			assert.Contains(t, err.Error(), "retry after")
			assert.Len(t, srv.Requests(), 1)
		})
	}
}

func TestRetryAfterLongerThanTheContextAllowsReturnsAtOnce(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Status: 503, RetryAfter: 30 * time.Second})
	c := newClient(t, srv, phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 3, MinDelay: time.Millisecond, MaxDelay: time.Minute}))
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(cctx)
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 30*time.Second, apiErr.RetryAfter)
	assert.NoError(t, cctx.Err(), "the error came before the deadline")
	assert.Len(t, srv.Requests(), 1)
}

func TestCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Status: 503, Times: 5})
	// The backoff is an hour: only cancellation can end the wait.
	cctx, cancel := context.WithCancel(context.Background())
	// The client logs each attempt once its reply is in, just before it
	// waits: cancel then.
	cancelOnLog := phlo.WithLogger(slog.New(callbackHandler(cancel)))
	c := newClient(t, srv, phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 3, MinDelay: time.Hour, MaxDelay: time.Hour}), phlo.WithTimeout(0), cancelOnLog)
	_, err := c.Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(cctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, phlo.ErrServer, "the last reply is kept")
	assert.Len(t, srv.Requests(), 1)
}

func TestStalledBodyEndsWithTheContext(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Stall: true, Status: 201, Body: `{"api_id":`})
	c := newClient(t, srv, phlo.WithRetryPolicy(phlo.RetryPolicy{}))
	cctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(cctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestSlowReplyIsCutByWithTimeout(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Delay: time.Hour})
	_, err := newClient(t, srv, phlo.WithTimeout(50*time.Millisecond)).Phlo(pID).Get(ctx())
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// endless writes a body that never ends until the client goes away.
func endless(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		chunk := []byte(strings.Repeat("a", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

func plainClient(t *testing.T, url string, opts ...phlo.Option) *phlo.RestClient {
	t.Helper()
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, append([]phlo.Option{phlo.WithBaseURL(url), phlo.WithRetryPolicy(phlo.RetryPolicy{})}, opts...)...)
	require.NoError(t, err)
	return c
}

func TestEndlessBody(t *testing.T) {
	t.Parallel()
	for _, status := range []int{200, 502} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(endless(status))
			defer srv.Close()
			_, err := plainClient(t, srv.URL).Phlo("p").Get(ctx())
			require.Error(t, err)
			if status == 200 {
				require.ErrorIs(t, err, phlo.ErrInvalidResponse)
				return
			}
			var apiErr *phlo.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Len(t, apiErr.Body, phlo.MaxResponseBytes)
		})
	}
}

// TestRedirectIsNeverFollowed: the host a redirect names receives nothing,
// with the SDK's own HTTP client or the caller's.
func TestRedirectIsNeverFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(200)
	}))
	// Another host: another loopback address where the system has one.
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err == nil {
		other.Listener.Close()
		other.Listener = ln
	}
	other.Start()
	defer other.Close()

	for _, status := range []int{301, 302, 303, 307, 308} {
		for name, opts := range map[string][]phlo.Option{
			"own client":    nil,
			"caller client": {phlo.WithHTTPClient(&http.Client{})},
		} {
			t.Run(fmt.Sprint(status, " ", name), func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, other.URL+r.URL.Path, status)
				}))
				defer srv.Close()
				c := plainClient(t, srv.URL, opts...)
				if name == "caller client" {
					defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
				}
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx())
				var apiErr *phlo.APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, status, apiErr.StatusCode)
				assert.Zero(t, hits.Load(), "the redirect target received a request")
			})
		}
	}
}

func TestDialErrorIsRetriedEvenForCall(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every dial is refused

	var mu sync.Mutex
	var attempts int
	logger := newCountingLogger(&mu, &attempts)
	c := plainClient(t, "http://"+addr, fast, logger)
	_, err = c.Phlo("p").MultiPartyCall("n").Call(ctx(), phlo.CallParams{TriggerSource: "+1", To: "+2"})
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
	assert.Equal(t, "dial", opErr.Op)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, attempts, "a request that never left is safe to send again")
}

func TestConcurrentUseOfOneClient(t *testing.T) {
	t.Parallel()
	srv := phlotest.Start(t)
	const n = 200
	for i := range n {
		srv.AddMember(pID, nID, fmt.Sprintf("+1415555%04d", i), phlo.RoleCustomer)
	}
	c := srv.Client()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := c.Phlo(pID).MultiPartyCall(nID).Member(fmt.Sprintf("+1415555%04d", i))
			if _, err := m.Hold(ctx()); err != nil {
				errs <- err
				return
			}
			if i%2 == 0 {
				if _, err := m.Unhold(ctx()); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, m := range srv.Members(pID, nID) {
		assert.Equal(t, i%2 == 1, m.OnHold, m.Address)
	}
	assert.Len(t, srv.Requests(), n+n/2)
}

func TestBodyIsClosed(t *testing.T) {
	t.Parallel()
	var closed, opened atomic.Int32
	rec := &recorder{reply: func(n int, _ *http.Request) (*http.Response, error) {
		opened.Add(1)
		status := []int{503, 201}[min(n-1, 1)]
		resp := jsonResponse(status, `{"api_id":"x","error":""}`)
		resp.Body = closeCounter{resp.Body, &closed}
		return resp, nil
	}}
	c := mockClientFunc(t, rec, fast)
	_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx())
	require.NoError(t, err)
	assert.Equal(t, int32(2), opened.Load())
	assert.Equal(t, opened.Load(), closed.Load())
}

type closeCounter struct {
	io.ReadCloser
	n *atomic.Int32
}

func (c closeCounter) Close() error {
	c.n.Add(1)
	return c.ReadCloser.Close()
}

func TestDeadlineShorterThanBackoffReturnsTheErrorAtOnce(t *testing.T) {
	t.Parallel()
	srv := fakeCall(t)
	srv.Inject(phlotest.Fault{Status: 503, Times: 5})
	c := newClient(t, srv, phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 3, MinDelay: time.Hour, MaxDelay: time.Hour}))
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Phlo(pID).Get(cctx)
	require.ErrorIs(t, err, phlo.ErrServer)
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
	assert.Len(t, srv.Requests(), 1)
}
