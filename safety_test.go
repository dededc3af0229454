package phlo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

// echoes are the ways a server sends back what it got: the Authorization
// header in a proxy's error page, in the API's JSON error text and api_id,
// in a 2xx error field, as a malformed status line, the token alone, and the
// base64 with JSON-escaped slashes.
var echoes = map[string]func(w http.ResponseWriter, r *http.Request){
	"proxy page": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		var b strings.Builder
		b.WriteString("<html><body><h1>502 Bad Gateway</h1><pre>")
		r.Header.Write(&b)
		b.WriteString("</pre></body></html>")
		io.WriteString(w, b.String())
	},
	"json error": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{
			"api_id": r.Header.Get("Authorization"),
			"error":  "bad credentials " + r.Header.Get("Authorization") + " for token " + testAuthToken + " of " + testAuthID,
		})
	},
	"2xx error field": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"api_id": "a", "error": "echo: " + r.Header.Get("Authorization")})
	},
	"escaped slashes": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		basic := strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
		io.WriteString(w, `{"error":"`+strings.ReplaceAll(basic, "/", `\/`)+`"}`)
	},
	"unpadded": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		basic := strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
		io.WriteString(w, `{"error":"token `+strings.TrimRight(basic, "=")+`"}`)
	},
	"status line": func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString(r.Header.Get("Authorization") + "\r\n\r\n")
		buf.Flush()
	},
}

// TestEchoedCredentialsAreRedacted: whatever the server echoes, no error
// field, error string, printed error or log record shows a credential.
func TestEchoedCredentialsAreRedacted(t *testing.T) {
	t.Parallel()
	for name, echo := range echoes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(echo))
			defer srv.Close()
			var mu sync.Mutex
			var logs bytes.Buffer
			w := lockedWriter{&mu, &logs}
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			for _, h := range []slog.Handler{slog.NewJSONHandler(w, opts), slog.NewTextHandler(w, opts)} {
				c := plainClient(t, srv.URL, phlo.WithLogger(slog.New(h)), phlo.WithRetryPolicy(fastRetries))
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
				require.Error(t, err)
				_, err = c.Phlo("p").Run(context.Background(), nil)
				require.Error(t, err)
				for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
					noSecrets(t, fmt.Sprintf(verb, err))
				}
				assert.Contains(t, err.Error(), "[redacted]", "the echo did not reach the error")
				var apiErr *phlo.APIError
				if errors.As(err, &apiErr) {
					noSecrets(t, apiErr.Message)
					noSecrets(t, apiErr.APIID)
					noSecrets(t, string(apiErr.Body))
				}
				slog.New(h).Error("hold failed", "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, logs.String())
			noSecrets(t, logs.String())
		})
	}
}

// TestClientHeldByValuePrintsNoCredential: a struct that holds a
// RestClient by value, exported or not, prints no credential with any verb.
func TestClientHeldByValuePrintsNoCredential(t *testing.T) {
	t.Parallel()
	c, err := phlo.NewRestClient(testAuthID, testAuthToken)
	require.NoError(t, err)
	type service struct {
		Client phlo.RestClient
		client phlo.RestClient
		ptr    *phlo.RestClient
		member phlo.Member
	}
	s := service{Client: *c, client: *c, ptr: c, member: *c.Phlo("p").MultiPartyCall("n").Member("+1")}
	for _, v := range []any{s, &s, []service{s}, map[string]service{"a": s}} {
		for _, verb := range []string{"%s", "%q", "%v", "%+v", "%#v", "%x", "%X", "%d"} {
			noSecrets(t, fmt.Sprintf(verb, v))
		}
	}
}

// hostileReplies are error bodies meant to break a log or a terminal.
var hostileReplies = map[string]string{
	"1 MiB error":     `{"api_id":"a","error":"` + strings.Repeat("x", 1<<20-40) + `"}`,
	"forged log line": `{"api_id":"a\nlevel=ERROR msg=forged","error":"x\nlevel=ERROR msg=forged\r\n"}`,
	"terminal escape": `{"api_id":"\u001b[2J","error":"\u001b]0;owned\u0007\u001b[2J\u009b31m\u202eevil"}`,
	"html page":       "<html>\x1b[2J<h1>Bad\nGateway</h1>" + strings.Repeat("<p>y</p>", 10000) + "</html>",
	"invalid UTF-8":   "\xff\xfe\xfd" + strings.Repeat("\x00", 100),
	"long api_id":     `{"api_id":"` + strings.Repeat("i", 5000) + `","error":"e"}`,
}

// TestErrorTextIsOneBoundedLine: the server's words in an error are one
// line of at most 512 bytes with no control characters; Body keeps the raw
// reply.
func TestErrorTextIsOneBoundedLine(t *testing.T) {
	t.Parallel()
	for name, body := range hostileReplies {
		for _, status := range []int{201, 400, 502} {
			t.Run(fmt.Sprintf("%s/%d", name, status), func(t *testing.T) {
				t.Parallel()
				c, _ := mockClient(t, status, body)
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
				require.Error(t, err)
				checkErrorText(t, err)
				var apiErr *phlo.APIError
				if errors.As(err, &apiErr) {
					assert.LessOrEqual(t, len(apiErr.Message), 512)
					assert.LessOrEqual(t, len(apiErr.APIID), 128)
					checkOneLine(t, apiErr.Message)
					checkOneLine(t, apiErr.APIID)
					assert.Equal(t, body, string(apiErr.Body))
				}
			})
		}
	}
}

// checkErrorText fails if err's text is not one clean line within the bound
// for a short path.
func checkErrorText(t testing.TB, err error) {
	t.Helper()
	text := err.Error()
	if len(text) > maxErrorLen {
		t.Fatalf("error text of %d bytes: %.200q…", len(text), text)
	}
	checkOneLine(t, text)
	if !strings.HasPrefix(text, "phlo: ") || strings.Contains(text, ": phlo: ") {
		t.Fatalf("%q does not say phlo: once, at its start", text)
	}
}

// maxErrorLen bounds an error's text for the short paths of the tests: the
// request, the status and 512 bytes of message and 128 of api_id.
const maxErrorLen = 1024

func checkOneLine(t testing.TB, s string) {
	t.Helper()
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("%+q holds the control character %U", s, r)
		}
	}
}

// TestRetryAfterTooLargeMeansNoRetry: a Retry-After too large to represent,
// in either form, is longer than any wait: the error comes back at once
// with RetryAfter set.
func TestRetryAfterTooLargeMeansNoRetry(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"99999999999999999999", "86401", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{reply: func(int, *http.Request) (*http.Response, error) {
				resp := jsonResponse(http.StatusTooManyRequests, `{"api_id":"r","error":"slow down"}`)
				resp.Header.Set("Retry-After", v)
				return resp, nil
			}}
			c := mockClientFunc(t, rec, phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 5, MaxDelay: 1000 * time.Hour}))
			_, err := c.Phlo("p").Run(context.Background(), nil)
			var apiErr *phlo.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, phlo.MaxRetryAfter, apiErr.RetryAfter)
			assert.Equal(t, 1, apiErr.Attempts)
			assert.Len(t, rec.all(), 1)
		})
	}
}

// TestDoChecksOutBeforeSending: out must be nil or a non-nil pointer.
func TestDoChecksOutBeforeSending(t *testing.T) {
	t.Parallel()
	var nilMap *map[string]any
	for name, out := range map[string]any{"struct": struct{}{}, "map": map[string]any{}, "nil pointer": nilMap, "string": ""} {
		c, rec := mockClient(t, 201, `{"api_id":"a"}`)
		err := c.Do(context.Background(), phlo.Request{Method: "POST", Path: []string{"phlo", "p"}}, out)
		var argErr *phlo.ArgumentError
		require.ErrorAs(t, err, &argErr, name)
		assert.Equal(t, "out", argErr.Name)
		assert.Empty(t, rec.all(), "%s: sent before failing", name)
	}
}

// TestBaseURLsThatCannotCarryTheAuthID: no base URL ends in an error that
// carries the auth ID; one that cannot form a request URL is refused.
func TestBaseURLsThatCannotCarryTheAuthID(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"https://[::1%25lo]:1", "https://127.0.0.1:1/prefix%2Fx"} {
		c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(base), phlo.WithRetryPolicy(phlo.RetryPolicy{}))
		if err != nil {
			require.ErrorIs(t, err, phlo.ErrInvalidArgument)
			noSecrets(t, err.Error())
			continue
		}
		_, err = c.Phlo("p").Run(context.Background(), nil)
		require.Error(t, err)
		var opErr *net.OpError
		assert.ErrorAs(t, err, &opErr, "%s: %v", base, err)
		noSecrets(t, fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	for _, base := range []string{"https://exa mple.com", "https://[::1%zz]:1", "http://example.com", "ftp://127.0.0.1"} {
		_, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL(base))
		require.ErrorIs(t, err, phlo.ErrInvalidArgument, base)
	}
}

// TestOneDecodingRule: a 2xx whose error or api_id is not a string is an
// invalid reply for every action and for Do, whatever out is.
func TestOneDecodingRule(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"error":5}`, `{"api_id":"a","error":{"text":"x"}}`, `{"api_id":42,"error":""}`, `{"error":true,"phlo_id":"p"}`} {
		calls := map[string]func(*phlo.RestClient) error{
			"hold": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx())
				return err
			},
			"get":     func(c *phlo.RestClient) error { _, err := c.Phlo("p").Get(ctx()); return err },
			"run":     func(c *phlo.RestClient) error { _, err := c.Phlo("p").Run(ctx(), nil); return err },
			"get run": func(c *phlo.RestClient) error { _, err := c.Phlo("p").GetRun(ctx(), "r"); return err },
			"Do, nil out": func(c *phlo.RestClient) error {
				return c.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"x"}}, nil)
			},
			"Do, map out": func(c *phlo.RestClient) error {
				return c.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"x"}}, &map[string]any{})
			},
			"Do, any out": func(c *phlo.RestClient) error {
				var v any
				return c.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"x"}}, &v)
			},
			"Do, raw out": func(c *phlo.RestClient) error {
				var v json.RawMessage
				return c.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"x"}}, &v)
			},
			"call": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").Call(ctx(), phlo.CallParams{TriggerSource: "a", To: "b"})
				return err
			},
			"get node": func(c *phlo.RestClient) error { _, err := c.Phlo("p").MultiPartyCall("n").Get(ctx()); return err },
			"voicemail": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").VoicemailDrop(ctx())
				return err
			},
			"abort": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").AbortTransfer(ctx())
				return err
			},
			"resume": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").ResumeCall(ctx())
				return err
			},
			"unhold": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Unhold(ctx())
				return err
			},
			"hangup": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hangup(ctx())
				return err
			},
			"warm": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").WarmTransfer(ctx(), phlo.CallParams{TriggerSource: "a", To: "b"})
				return err
			},
			"cold": func(c *phlo.RestClient) error {
				_, err := c.Phlo("p").MultiPartyCall("n").ColdTransfer(ctx(), phlo.CallParams{TriggerSource: "a", To: "b"})
				return err
			},
			"Do, struct": func(c *phlo.RestClient) error {
				var v phlo.PhloInfo
				return c.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"x"}}, &v)
			},
			"Do, response": func(c *phlo.RestClient) error {
				var v phlo.ActionResponse
				return c.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"x"}}, &v)
			},
		}
		for name, call := range calls {
			c, _ := mockClient(t, http.StatusOK, body)
			err := call(c)
			require.ErrorIs(t, err, phlo.ErrInvalidResponse, "%s %s", name, body)
			checkErrorText(t, err)
		}
	}
}

// TestSentinelsDoNotStutter: sentinels are noun phrases; every error says
// "phlo: " once, at its start.
func TestSentinelsDoNotStutter(t *testing.T) {
	t.Parallel()
	for _, s := range []error{phlo.ErrInvalidArgument, phlo.ErrMissingCredentials, phlo.ErrBadRequest, phlo.ErrUnauthorized,
		phlo.ErrForbidden, phlo.ErrNotFound, phlo.ErrRateLimited, phlo.ErrServer, phlo.ErrInvalidResponse} {
		assert.NotContains(t, s.Error(), "phlo")
	}
	c, _ := mockClient(t, http.StatusCreated, `[]`)
	_, err := c.Phlo("p").Get(ctx())
	require.ErrorIs(t, err, phlo.ErrInvalidResponse)
	assert.True(t, strings.HasPrefix(err.Error(), "phlo: GET /v1/phlo/p: invalid response: "), err.Error())
	checkErrorText(t, err)

	_, err = c.Phlo("").Get(ctx())
	assert.Equal(t, "phlo: invalid argument: phloID must not be empty", err.Error())
	_, err = phlo.NewRestClient("", "")
	assert.True(t, strings.HasPrefix(err.Error(), "phlo: missing credentials: "), err.Error())
}

// TestZeroAndNilClientsNeverPanic: every method of a nil or zero
// RestClient returns an error or a zero value.
func TestZeroAndNilClientsNeverPanic(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]*phlo.RestClient{"nil": nil, "zero": {}} {
		require.NotPanics(t, func() {
			c.CloseIdleConnections()
			assert.Empty(t, c.AuthID())
			assert.Empty(t, c.BaseURL())
			_ = fmt.Sprintf("%v %+v %s %#v", c, c, c, c)
			_ = c.LogValue()
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "c", c)
			err := c.Do(ctx(), phlo.Request{Method: "GET", Path: []string{"phlo"}}, nil)
			assert.ErrorIs(t, err, phlo.ErrInvalidArgument)
			_, err = c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx())
			assert.ErrorIs(t, err, phlo.ErrInvalidArgument)
			_, err = c.Phlo("p").Run(ctx(), nil)
			assert.ErrorIs(t, err, phlo.ErrInvalidArgument)
		}, name)
	}
}

// TestWithTimeoutSaysWhichLimitFired: a call the client's timeout ends
// matches context.DeadlineExceeded and says so, with the duration; the
// caller's own deadline reads as the context's.
func TestWithTimeoutSaysWhichLimitFired(t *testing.T) {
	t.Parallel()
	rec := &recorder{reply: func(_ int, req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
	c := mockClientFunc(t, rec, phlo.WithTimeout(20*time.Millisecond))
	_, err := c.Phlo("p").Get(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "timeout of 20ms")
	assert.Contains(t, err.Error(), "WithTimeout")
	checkErrorText(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = c.Phlo("p").Get(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotContains(t, err.Error(), "WithTimeout")
}
