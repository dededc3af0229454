package phlo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

func TestNewRestClientCredentials(t *testing.T) {
	// Not parallel: it sets environment variables.
	t.Run("arguments", func(t *testing.T) {
		c, err := phlo.NewRestClient(testAuthID, testAuthToken)
		require.NoError(t, err)
		assert.Equal(t, testAuthID, c.AuthID())
		assert.Equal(t, "https://phlorunner.plivo.com/v1", c.BaseURL())
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv(phlo.EnvAuthID, "MAENV")
		t.Setenv(phlo.EnvAuthToken, "envtoken")
		c, err := phlo.NewRestClient("", "")
		require.NoError(t, err)
		assert.Equal(t, "MAENV", c.AuthID())
	})
	t.Run("arguments win over the environment", func(t *testing.T) {
		t.Setenv(phlo.EnvAuthID, "MAENV")
		t.Setenv(phlo.EnvAuthToken, "envtoken")
		c, err := phlo.NewRestClient("MAARG", "")
		require.NoError(t, err)
		assert.Equal(t, "MAARG", c.AuthID())
	})
	for _, tc := range []struct {
		name, id, token, param string
	}{
		{"no auth ID", "", "tok", "authID"},
		{"no auth token", "MA1", "", "authToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(phlo.EnvAuthID, "")
			t.Setenv(phlo.EnvAuthToken, "")
			c, err := phlo.NewRestClient(tc.id, tc.token)
			assert.Nil(t, c)
			require.ErrorIs(t, err, phlo.ErrMissingCredentials)
			var argErr *phlo.ArgumentError
			require.ErrorAs(t, err, &argErr)
			assert.Equal(t, tc.param, argErr.Name)
		})
	}
	for _, tc := range []struct {
		name, id, token, param string
	}{
		{"colon in auth ID", "MA:1", "tok", "authID"},
		{"slash in auth ID", "MA/1", "tok", "authID"},
		{"dot-dot auth ID", "..", "tok", "authID"},
		{"newline in auth token", "MA1", "to\nk", "authToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := phlo.NewRestClient(tc.id, tc.token)
			require.ErrorIs(t, err, phlo.ErrInvalidArgument)
			var argErr *phlo.ArgumentError
			require.ErrorAs(t, err, &argErr)
			assert.Equal(t, tc.param, argErr.Name)
			assert.NotContains(t, err.Error(), "to\nk")
		})
	}
}

func TestNewRestClientOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opt     phlo.Option
		wantErr string // "" for success
		base    string
	}{
		{"https", phlo.WithBaseURL("https://runner.example.com"), "", "https://runner.example.com/v1"},
		{"https with prefix", phlo.WithBaseURL("https://proxy.example.com/plivo/"), "", "https://proxy.example.com/plivo/v1"},
		{"http loopback v4", phlo.WithBaseURL("http://127.0.0.1:8089"), "", "http://127.0.0.1:8089/v1"},
		{"http loopback 127/8", phlo.WithBaseURL("http://127.3.2.1:8089"), "", "http://127.3.2.1:8089/v1"},
		{"http loopback v6", phlo.WithBaseURL("http://[::1]:8089"), "", "http://[::1]:8089/v1"},
		{"http localhost", phlo.WithBaseURL("http://LocalHost:8089"), "", "http://LocalHost:8089/v1"},
		{"http remote", phlo.WithBaseURL("http://runner.example.com"), "https unless the host is loopback", ""},
		{"http private address", phlo.WithBaseURL("http://10.0.0.1"), "https unless the host is loopback", ""},
		{"ftp", phlo.WithBaseURL("ftp://runner.example.com"), "must use https", ""},
		{"no host", phlo.WithBaseURL("https://"), "must name a host", ""},
		{"relative", phlo.WithBaseURL("/v1"), "must use https", ""},
		{"user info", phlo.WithBaseURL("https://u:p@runner.example.com"), "must not carry credentials", ""},
		{"query", phlo.WithBaseURL("https://runner.example.com?x=1"), "query", ""},
		{"not a URL", phlo.WithBaseURL("https://%zz"), "not a URL", ""},
		{"nil HTTP client", phlo.WithHTTPClient(nil), "WithHTTPClient must not be nil", ""},
		{"empty user agent", phlo.WithUserAgent("  "), "WithUserAgent must not be empty", ""},
		{"control in user agent", phlo.WithUserAgent("app\r\nX: y"), "control characters", ""},
		{"negative timeout", phlo.WithTimeout(-time.Second), "WithTimeout must not be negative", ""},
		{"negative retries", phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: -1}), "MaxRetries", ""},
		{"max below min", phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 1, MinDelay: time.Second, MaxDelay: time.Millisecond}), "MaxDelay", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := phlo.NewRestClient(testAuthID, testAuthToken, tc.opt)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, phlo.ErrInvalidArgument)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Nil(t, c)
				return
			}
			require.NoError(t, err)
			if tc.base != "" {
				assert.Equal(t, tc.base, c.BaseURL())
			}
		})
	}
}

func TestUserAgentPutsTheApplicationFirst(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusOK, `{"api_id":"1"}`, phlo.WithUserAgent("callrouter/2.1"))
	_, err := c.Phlo("p").Get(context.Background())
	require.NoError(t, err)
	assert.Regexp(t, `^callrouter/2\.1 phlo-go/`+strings.ReplaceAll(phlo.Version, ".", `\.`)+` \(`, rec.last(t).Header.Get("User-Agent"))
}

func TestWithHTTPClientIsNotModified(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Timeout: time.Minute}
	_, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Nil(t, hc.CheckRedirect, "the caller's client must be copied, not changed")
	assert.Equal(t, time.Minute, hc.Timeout)
}

// TestErrorReplies covers every class of failed reply and every shape of
// body a server or a proxy in front of it may send.
func TestErrorReplies(t *testing.T) {
	t.Parallel()
	html := `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>`
	cases := []struct {
		name     string
		status   int
		body     string
		sentinel error
		apiID    string
		message  string
	}{
		{"400 documented", 400, `{"api_id":"b-1","error":"to is a mandatory param."}`, phlo.ErrBadRequest, "b-1", "to is a mandatory param."},
		{"400 role", 400, `{"api_id":"b-2","error":"Invalid value provided for role."}`, phlo.ErrBadRequest, "b-2", "Invalid value provided for role."},
		{"401 empty", 401, ``, phlo.ErrUnauthorized, "", "Unauthorized"},
		{"401 JSON", 401, `{"api_id":"u-1","error":"authentication failed"}`, phlo.ErrUnauthorized, "u-1", "authentication failed"},
		{"403 text", 403, `PHLO not enabled`, phlo.ErrForbidden, "", "PHLO not enabled"},
		{"404 empty object", 404, `{}`, phlo.ErrNotFound, "", "Not Found"},
		{"404 api_id only", 404, `{"api_id":"n-1"}`, phlo.ErrNotFound, "n-1", "Not Found"},
		{"405", 405, `{"api_id":"m-1","error":"method not allowed"}`, nil, "m-1", "method not allowed"},
		{"429 empty", 429, ``, phlo.ErrRateLimited, "", "Too Many Requests"},
		{"500 empty", 500, ``, phlo.ErrServer, "", "Internal Server Error"},
		{"500 JSON", 500, `{"api_id":"s-1","error":"internal error"}`, phlo.ErrServer, "s-1", "internal error"},
		{"502 HTML", 502, html, phlo.ErrServer, "", "502 Bad Gateway 502 Bad Gateway"},
		{"503 truncated JSON", 503, `{"api_id":"s-2","err`, phlo.ErrServer, "", `{"api_id":"s-2","err`},
		{"504 not JSON", 504, `upstream timed out`, phlo.ErrServer, "", "upstream timed out"},
		{"599", 599, ``, phlo.ErrServer, "", ""},
		{"error is not a string", 400, `{"api_id":"x","error":{"code":1}}`, phlo.ErrBadRequest, "", `{"api_id":"x","error":{"code":1}}`},
		{"redirect", 302, ``, nil, "", "Found"},
		{"2xx with error", 200, `{"api_id":"o-1","error":"node not deployed"}`, nil, "o-1", "node not deployed"},
	}
	sentinels := []error{phlo.ErrBadRequest, phlo.ErrUnauthorized, phlo.ErrForbidden, phlo.ErrNotFound, phlo.ErrRateLimited, phlo.ErrServer}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rec := mockClient(t, tc.status, tc.body)
			resp, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.Len(t, rec.all(), 1)

			var apiErr *phlo.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.apiID, apiErr.APIID)
			if tc.message != "" {
				if strings.Contains(tc.body, "<html>") {
					assert.Contains(t, apiErr.Message, tc.message)
				} else {
					assert.Equal(t, tc.message, apiErr.Message)
				}
			}
			assert.Equal(t, []byte(tc.body), append([]byte{}, apiErr.Body...))
			assert.Equal(t, 1, apiErr.Attempts)
			for _, s := range sentinels {
				assert.Equal(t, s == tc.sentinel, errors.Is(err, s), "errors.Is(%v)", s)
			}
			assert.False(t, errors.Is(err, phlo.ErrInvalidArgument))
			assert.Contains(t, err.Error(), fmt.Sprint(tc.status))
			assert.Contains(t, err.Error(), "/v1/phlo/p/multi_party_call/n/members/+1")
			noSecrets(t, err.Error())
			noSecrets(t, fmt.Sprintf("%+v %#v", err, err))
		})
	}
}

func TestErrorMessageSampleIsShort(t *testing.T) {
	t.Parallel()
	c, _ := mockClient(t, 500, strings.Repeat("x", 10000))
	_, err := c.Phlo("p").Get(context.Background())
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.LessOrEqual(t, len(apiErr.Message), 512)
	assert.LessOrEqual(t, len(err.Error()), 512+100)
	assert.Len(t, apiErr.Body, 10000)
}

func TestSuccessRepliesThatCannotBeDecoded(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `   `, `not json`, `{"api_id":`, `<html></html>`, `{"api_id":42}`, `[1,2]`, `null`, `"ok"`, `42`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			c, _ := mockClient(t, http.StatusCreated, body)
			resp, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
			assert.Nil(t, resp)
			require.ErrorIs(t, err, phlo.ErrInvalidResponse)
			var apiErr *phlo.APIError
			assert.False(t, errors.As(err, &apiErr))
		})
	}
}

func TestOversizedSuccessReplyIsAnError(t *testing.T) {
	t.Parallel()
	big := `{"api_id":"` + strings.Repeat("a", phlo.MaxResponseBytes) + `"}`
	c, _ := mockClient(t, http.StatusOK, big)
	_, err := c.Phlo("p").Get(context.Background())
	require.ErrorIs(t, err, phlo.ErrInvalidResponse)
	assert.Contains(t, err.Error(), "larger than")
}

func TestOversizedErrorReplyIsCut(t *testing.T) {
	t.Parallel()
	c, _ := mockClient(t, http.StatusBadGateway, strings.Repeat("<p>", phlo.MaxResponseBytes))
	_, err := c.Phlo("p").Get(context.Background())
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Len(t, apiErr.Body, phlo.MaxResponseBytes)
}

func TestTransportErrorIsWrappedWithoutTheURL(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset by peer")
	rec := &recorder{reply: func(int, *http.Request) (*http.Response, error) { return nil, boom }}
	c := mockClientFunc(t, rec)
	_, err := c.Phlo("p").Run(context.Background(), nil)
	require.ErrorIs(t, err, boom)
	require.ErrorIs(t, err, phlo.ErrOutcomeUnknown, "a mock's failure proves nothing was left unsent")
	assert.Equal(t, "phlo: POST /v1/account/{auth_id}/phlo/p: connection reset by peer (outcome unknown)", err.Error())
	var ue *url.Error
	assert.False(t, errors.As(err, &ue), "the URL, which holds the auth ID, must not be kept")
	noSecrets(t, fmt.Sprintf("%v %+v %#v", err, err, err))
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusCreated, `{"api_id":"1","error":""}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, rec.all())
}

func TestContextDeadlineWhileWaitingForTheReply(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	rec.reply = func(_ int, req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	c := mockClientFunc(t, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Phlo("p").Get(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestWithTimeoutBoundsTheCall(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	rec.reply = func(_ int, req *http.Request) (*http.Response, error) {
		_, hasDeadline := req.Context().Deadline()
		if !hasDeadline {
			return httpmock.NewStringResponse(500, "no deadline"), nil
		}
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	c := mockClientFunc(t, rec, phlo.WithTimeout(10*time.Millisecond))
	_, err := c.Phlo("p").Get(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCredentialsAreNeverPrinted(t *testing.T) {
	t.Parallel()
	c, err := phlo.NewRestClient(testAuthID, testAuthToken)
	require.NoError(t, err)
	m := c.Phlo("p").MultiPartyCall("n").Member("+1")
	for _, v := range []any{c, *c, m, *m, c.Phlo("p"), c.Phlo("p").MultiPartyCall("n")} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			noSecrets(t, fmt.Sprintf(verb, v))
		}
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("client", "client", c, "value", *c, "member", m)
	logger = slog.New(slog.NewTextHandler(&buf, nil))
	logger.Info("client", "client", c, "value", *c, "member", m)
	noSecrets(t, buf.String())
}

func TestLoggerWritesARecordPerAttemptAndPerWait(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &recorder{reply: func(n int, _ *http.Request) (*http.Response, error) {
		if n <= 2 {
			return jsonResponse(503, `{"api_id":"busy","error":"try later"}`), nil
		}
		return jsonResponse(201, `{"api_id":"ok-1","error":""}`), nil
	}}
	c := mockClientFunc(t, rec, phlo.WithLogger(logger),
		phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 1, MinDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	_, err := c.Phlo("p").Run(context.Background(), map[string]any{"to": "+1"})
	require.ErrorIs(t, err, phlo.ErrServer, "a run is not repeated on 503")
	_, err = c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
	require.NoError(t, err)

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5)
	assert.Contains(t, lines[0], `"level":"DEBUG","msg":"phlo request","action":"run","node_kind":"","host":"phlorunner.plivo.com","method":"POST","path":"/v1/account/{auth_id}/phlo/p"`)
	assert.Contains(t, lines[0], `"status":503`)
	assert.Contains(t, lines[0], `"api_id":"busy"`)
	assert.Contains(t, lines[1], `"level":"WARN","msg":"phlo call failed","action":"run"`)
	assert.Contains(t, lines[1], `"attempts":1`)
	assert.Contains(t, lines[2], `"msg":"phlo request","action":"hold","node_kind":"multi_party_call","host":"phlorunner.plivo.com"`)
	assert.Contains(t, lines[2], `"attempt":1`)
	assert.Contains(t, lines[3], `"msg":"phlo retry","action":"hold"`)
	assert.Contains(t, lines[3], `"wait":1000000`)
	assert.Contains(t, lines[3], `"attempt":1`)
	assert.Contains(t, lines[3], `"reason":"503 Service Unavailable: try later (api_id busy)"`)
	assert.Contains(t, lines[4], `"attempt":2`)
	assert.Contains(t, lines[4], `"api_id":"ok-1"`)
	assert.Contains(t, lines[4], `"method":"POST"`)
	assert.Contains(t, lines[4], `"duration"`)
	noSecrets(t, out)
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestNilHandlesAndContextsReturnErrors: misuse is an error, never a panic.
func TestNilHandlesAndContextsReturnErrors(t *testing.T) {
	t.Parallel()
	var nilClient *phlo.RestClient
	var nilPhlo *phlo.Phlo
	var nilCall *phlo.MultiPartyCall
	var nilMember *phlo.Member
	zero := &phlo.RestClient{}
	calls := map[string]func() error{
		"nil client hold": func() error { _, err := nilClient.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx()); return err },
		"nil client run":  func() error { _, err := nilClient.Phlo("p").Run(ctx(), nil); return err },
		"nil client Do":   func() error { return nilClient.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"phlo"}}, nil) },
		"zero client get": func() error { _, err := zero.Phlo("p").Get(ctx()); return err },
		"nil Phlo":        func() error { _, err := nilPhlo.Get(ctx()); return err },
		"nil Phlo member": func() error { _, err := nilPhlo.MultiPartyCall("n").Member("+1").Unhold(ctx()); return err },
		"nil call": func() error {
			_, err := nilCall.Call(ctx(), phlo.CallParams{TriggerSource: "+1", To: "+2"})
			return err
		},
		"nil call member": func() error { _, err := nilCall.Member("+1").Hangup(ctx()); return err },
		"nil member":      func() error { _, err := nilMember.Hold(ctx()); return err },
		"nil context hold": func() error {
			c, _ := mockClient(t, 201, `{}`)
			//lint:ignore SA1012 the nil context is the point of the test
			_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(nil)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = call() })
			assert.ErrorIs(t, err, phlo.ErrInvalidArgument)
		})
	}
}

// TestBaseURLFromTheEnvironment: PHLO_BASE_URL is read when WithBaseURL is
// not given; WithBaseURL wins; a bad value is refused by name.
func TestBaseURLFromTheEnvironment(t *testing.T) {
	cases := []struct {
		env, option, want, errName string
	}{
		{"", "", "https://phlorunner.plivo.com/v1", ""},
		{"http://127.0.0.1:18090", "", "http://127.0.0.1:18090/v1", ""},
		{"http://127.0.0.1:18090", "https://runner.example/prefix", "https://runner.example/prefix/v1", ""},
		{"http://phlo-fake:8089", "", "", "PHLO_BASE_URL"},
		{"ftp://127.0.0.1", "", "", "PHLO_BASE_URL"},
		{"::not a url", "https://runner.example", "https://runner.example/v1", ""},
	}
	for _, tc := range cases {
		t.Setenv(phlo.EnvBaseURL, tc.env)
		var opts []phlo.Option
		if tc.option != "" {
			opts = append(opts, phlo.WithBaseURL(tc.option))
		}
		c, err := phlo.NewRestClient(testAuthID, testAuthToken, opts...)
		if tc.errName != "" {
			var argErr *phlo.ArgumentError
			require.ErrorAs(t, err, &argErr, "%+v", tc)
			assert.Equal(t, tc.errName, argErr.Name)
			assert.Contains(t, err.Error(), "PHLO_BASE_URL")
			continue
		}
		require.NoError(t, err, "%+v", tc)
		assert.Equal(t, tc.want, c.BaseURL())
	}
}

// TestWithInsecureHTTP: http:// to a host beyond loopback is refused with a
// word on how to allow it, and allowed with WithInsecureHTTP. Nothing is
// sent beyond loopback: the wire is checked through a mock transport.
func TestWithInsecureHTTP(t *testing.T) {
	t.Parallel()
	_, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL("http://phlo-fake:8089"))
	require.ErrorIs(t, err, phlo.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "phlo.WithInsecureHTTP()")

	for _, base := range []string{"http://phlo-fake:8089", "http://10.0.0.7", "http://[2001:db8::1]:8089/runner", "https://phlo-fake"} {
		c, rec := mockClient(t, http.StatusCreated, `{"api_id":"a","error":""}`, phlo.WithBaseURL(base), phlo.WithInsecureHTTP())
		assert.Equal(t, strings.TrimRight(base, "/")+"/v1", c.BaseURL())
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
		require.NoError(t, err)
		w := rec.last(t)
		assert.True(t, strings.HasSuffix(w.Path, "/v1/phlo/p/multi_party_call/n/members/+1"), w.Path)
	}
	for _, base := range []string{"ftp://phlo-fake", "http://user:pw@phlo-fake", "http://phlo-fake/?q=1", "http:///x"} {
		_, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(base), phlo.WithInsecureHTTP())
		require.ErrorIs(t, err, phlo.ErrInvalidArgument, base)
	}
}
