package phlo_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" {
		serveBenchmarks()
		return
	}
	// The examples and tests must not depend on the developer's account.
	os.Unsetenv(phlo.EnvAuthID)
	os.Unsetenv(phlo.EnvAuthToken)
	os.Unsetenv(phlo.EnvBaseURL)
	code := m.Run()
	stopBenchServer()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	testAuthID    = "MAZDQ1ZJIYMDZKMDUZMZ"
	testAuthToken = "s3cr3t-T0ken-never-printed"
	// testBasic is "Basic " + base64(testAuthID + ":" + testAuthToken).
	testBasic = "Basic TUFaRFExWkpJWU1EWktNRFVaTVo6czNjcjN0LVQwa2VuLW5ldmVyLXByaW50ZWQ="
)

// wire is a request as the mock transport saw it.
type wire struct {
	Method string
	// Path is the escaped path as it goes on the wire.
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// recorder answers every request with a canned reply and keeps what it saw.
type recorder struct {
	mu       sync.Mutex
	requests []wire
	reply    func(n int, req *http.Request) (*http.Response, error)
}

func (r *recorder) all() []wire {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire(nil), r.requests...)
}

func (r *recorder) last(t *testing.T) wire {
	t.Helper()
	all := r.all()
	require.NotEmpty(t, all, "no request reached the transport")
	return all[len(all)-1]
}

// mockClient returns a client whose transport is an httpmock.MockTransport
// that answers status and body to everything, and never retries unless
// opts say so.
func mockClient(t *testing.T, status int, body string, opts ...phlo.Option) (*phlo.RestClient, *recorder) {
	t.Helper()
	rec := &recorder{reply: func(int, *http.Request) (*http.Response, error) {
		return httpmock.NewStringResponse(status, body), nil
	}}
	return mockClientFunc(t, rec, opts...), rec
}

func mockClientFunc(t *testing.T, rec *recorder, opts ...phlo.Option) *phlo.RestClient {
	t.Helper()
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
		}
		rec.mu.Lock()
		rec.requests = append(rec.requests, wire{
			Method: req.Method,
			Path:   req.URL.EscapedPath(),
			Query:  req.URL.RawQuery,
			Header: req.Header.Clone(),
			Body:   body,
		})
		n := len(rec.requests)
		rec.mu.Unlock()
		resp, err := rec.reply(n, req)
		if resp != nil {
			resp.Request = req
		}
		return resp, err
	})
	all := append([]phlo.Option{
		phlo.WithHTTPClient(&http.Client{Transport: mt}),
		phlo.WithRetryPolicy(phlo.RetryPolicy{}),
	}, opts...)
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, all...)
	require.NoError(t, err)
	return c
}

// jsonResponse builds a reply with a JSON content type.
func jsonResponse(status int, body string) *http.Response {
	resp := httpmock.NewStringResponse(status, body)
	resp.Header.Set("Content-Type", "application/json")
	return resp
}

// assertJSONHeaders checks the headers every request carries.
func assertJSONHeaders(t *testing.T, w wire, withBody bool) {
	t.Helper()
	require.Equal(t, testBasic, w.Header.Get("Authorization"))
	require.Equal(t, "application/json", w.Header.Get("Accept"))
	require.Regexp(t, `^phlo-go/\d+\.\d+\.\d+ \(go`, w.Header.Get("User-Agent"))
	if withBody {
		require.Equal(t, "application/json", w.Header.Get("Content-Type"))
	} else {
		require.Empty(t, w.Header.Get("Content-Type"))
		require.Empty(t, w.Body)
	}
}

// noSecrets fails if s shows a credential.
func noSecrets(t *testing.T, s string) {
	t.Helper()
	require.NotContains(t, s, testAuthToken)
	require.NotContains(t, s, testAuthID)
	require.False(t, bytes.Contains([]byte(s), []byte(testBasic[6:])), "basic auth value leaked")
}

// newCountingLogger counts the "phlo request" records the client logs: one
// per attempt.
func newCountingLogger(mu *sync.Mutex, n *int) phlo.Option {
	return phlo.WithLogger(slog.New(countHandler{mu, n}))
}

type countHandler struct {
	mu *sync.Mutex
	n  *int
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "phlo request" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.n++
	return nil
}

func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// callbackHandler calls f for every record logged.
type callbackHandler func()

func (h callbackHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h callbackHandler) Handle(context.Context, slog.Record) error {
	h()
	return nil
}

func (h callbackHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h callbackHandler) WithGroup(string) slog.Handler      { return h }

// newClient is srv.NewClient for a test.
func newClient(t *testing.T, srv *phlotest.Server, opts ...phlo.Option) *phlo.RestClient {
	t.Helper()
	c, err := srv.NewClient(opts...)
	require.NoError(t, err)
	return c
}
