package phlo_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

// slashToken is a token whose basic auth value has a '/' in its base64, so
// that the JSON-escaped form differs from the plain one.
const slashToken = "sl4sh?~T0ken-never-shown"

// secretForms are the forms in which a server may echo a client's
// credentials: the token, the header value, its base64 padded, unpadded
// and with JSON-escaped slashes.
func secretForms(authID, token string) []string {
	b64 := base64.StdEncoding.EncodeToString([]byte(authID + ":" + token))
	forms := []string{token, "Basic " + b64, b64, strings.TrimRight(b64, "=")}
	if strings.Contains(b64, "/") {
		forms = append(forms, strings.ReplaceAll(b64, "/", `\/`))
	}
	return forms
}

// leak returns a piece of 8 or more bytes of any secret that shows in s,
// or "".
func leak(s string, secrets []string) string {
	for _, secret := range secrets {
		for i := 0; i+8 <= len(secret); i++ {
			if piece := secret[i : i+8]; strings.Contains(s, piece) {
				return piece
			}
		}
	}
	return ""
}

// logBuffer is a slog handler's output, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// echoClient is a client, logging every record to logs, whose transport
// answers every request with status and body, and whose token is token.
func echoClient(t *testing.T, token string, logs io.Writer, status int, body string, opts ...phlo.Option) *phlo.RestClient {
	t.Helper()
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(status, body)
		resp.Request = req
		return resp, nil
	})
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	all := append([]phlo.Option{
		phlo.WithHTTPClient(&http.Client{Transport: mt}),
		phlo.WithRetryPolicy(phlo.RetryPolicy{}),
		phlo.WithLogger(logger),
	}, opts...)
	c, err := phlo.NewRestClient(testAuthID, token, all...)
	require.NoError(t, err)
	return c
}

// checkNoPiece holds a hold through c and fails if any piece of 8 bytes or
// more of a secret shows in the error, APIError's fields or the log. With
// body false, APIError.Body is not checked: a secret that the reply itself
// split with an invisible character stays split there.
func checkNoPiece(t *testing.T, c *phlo.RestClient, logs *logBuffer, secrets []string, body bool, what string) {
	t.Helper()
	resp, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
	var texts []string
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	} else {
		texts = append(texts, resp.APIID)
		assert.LessOrEqual(t, len(resp.APIID), 128, what)
	}
	var apiErr *phlo.APIError
	if errors.As(err, &apiErr) {
		texts = append(texts, apiErr.Message, apiErr.APIID, apiErr.Path)
		if body {
			texts = append(texts, string(apiErr.Body))
		}
		assert.LessOrEqual(t, len(apiErr.Body), phlo.MaxResponseBytes, what)
		assert.LessOrEqual(t, len(apiErr.Message), 512, what)
		assert.LessOrEqual(t, len(apiErr.APIID), 128, what)
	}
	texts = append(texts, logs.String())
	for i, s := range texts {
		// The 1 MiB replies are runs of 'z' around the secret: dropping
		// those keeps the search quick, and can only join what was apart.
		if piece := leak(strings.ReplaceAll(s, zRun, ""), secrets); piece != "" {
			t.Fatalf("%s: text %d shows %q: %.300q", what, i, piece, s)
		}
	}
}

// wafPrefix is the start of a WAF's block page, up to where it quotes the
// request's Authorization header.
const wafPrefix = "<html><head><title>Request Rejected</title></head><body>" +
	"The requested URL was rejected. Please consult with your administrator.<br><br>" +
	"Your support ID is: 1429381572016854381<br><br>"

var zRun = strings.Repeat("z", 64)

// cutPlacements are replies that put a secret at offset k of a text the SDK
// cuts at cut: the raw reply for the read limit, the text once folded to
// one line for the rest. Every offset at which a secret straddles a cut is
// tried, and one either side. The SDK reads and folds 66 or 67 bytes (the
// longest secret's length) past a cut before it redacts and cuts: those
// ends are cuts too.
var cutPlacements = []struct {
	name   string
	status int
	cut    int
	reply  func(k int, secret string) string
}{
	{"error text cut at 512", 400, 512, func(k int, s string) string {
		return `{"api_id":"a","error":"` + strings.Repeat("x", k) + s + strings.Repeat("y", 600) + `"}`
	}},
	{"api_id cut at 128", 400, 128, func(k int, s string) string {
		return `{"api_id":"` + strings.Repeat("i", k) + s + strings.Repeat("j", 300) + `","error":"e"}`
	}},
	{"text sample cut at 512", 502, 512, func(k int, s string) string {
		return strings.Repeat("x", k) + s + strings.Repeat("y", 3000)
	}},
	{"HTML page's text cut at 512", 502, 512, func(k int, s string) string {
		return "<html><body><p>" + strings.Repeat("x", k) + s + strings.Repeat("y", 600) + "</p></body></html>"
	}},
	{"error text folded to 512 and the slack", 400, 512 + 67, func(k int, s string) string {
		return `{"api_id":"a","error":"` + strings.Repeat("x", k) + s + strings.Repeat("y", 600) + `"}`
	}},
	{"successful api_id cut at 128", 201, 128, func(k int, s string) string {
		return `{"api_id":"` + strings.Repeat("i", k) + s + strings.Repeat("j", 300) + `","error":""}`
	}},
	{"text sample, the old cut at 2048", 502, 2048, func(k int, s string) string {
		return strings.Repeat(" ", k) + s + strings.Repeat("y", 3000)
	}},
	{"WAF page quoting the header across the old cut at 2048", 403, 2048, func(k int, s string) string {
		n := k - len(wafPrefix+"Authorization: ")
		return wafPrefix + strings.Repeat("<br>", n/4) + strings.Repeat(" ", n%4) + "Authorization: " + s +
			"<br><a href='javascript:history.back();'>[Go Back]</a></body></html>"
	}},
	{"body cut at 1 MiB", 502, phlo.MaxResponseBytes, func(k int, s string) string {
		return strings.Repeat("z", k) + s + strings.Repeat("z", 200)
	}},
	{"body read to 1 MiB and the slack", 502, phlo.MaxResponseBytes + 67, func(k int, s string) string {
		return strings.Repeat("z", k) + s + strings.Repeat("z", 200)
	}},
}

// TestNoPieceOfASecretAtAnyCut: a secret echoed at every offset around each
// cut the SDK makes (the error text, the api_id, the sample of a body that
// is not JSON, an HTML page, the 1 MiB read) shows no piece of 8 bytes or
// more in the error, APIError's fields or a log record.
func TestNoPieceOfASecretAtAnyCut(t *testing.T) {
	t.Parallel()
	for _, token := range []string{testAuthToken, slashToken} {
		secrets := secretForms(testAuthID, token)
		for _, p := range cutPlacements {
			if token == slashToken && p.cut >= phlo.MaxResponseBytes {
				continue // a 1 MiB reply per offset: its one other form is tried at the other cuts
			}
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				step := 1
				if raceEnabled && p.cut >= phlo.MaxResponseBytes {
					// The race detector makes each 1 MiB reply cost most
					// of a second; CI runs this test without it too.
					step = 16
				}
				for _, secret := range secrets {
					for k := p.cut - len(secret) - 1; k <= p.cut+1; k += step {
						var logs logBuffer
						c := echoClient(t, token, &logs, p.status, p.reply(k, secret))
						checkNoPiece(t, c, &logs, secrets, true, fmt.Sprintf("%s at %d", secret[:8], k))
					}
				}
			})
		}
	}
}

// TestNoPieceOfAZeroWidthSplitSecret: a token echoed with a zero-width
// space or soft hyphens inside, wherever it falls around a cut, is whole
// once those are removed from the error text, and is redacted then.
func TestNoPieceOfAZeroWidthSplitSecret(t *testing.T) {
	t.Parallel()
	secrets := secretForms(testAuthID, testAuthToken)
	for _, secret := range secrets {
		t.Run(secret[:8], func(t *testing.T) {
			t.Parallel()
			for _, split := range []string{
				secret[:len(secret)/2] + "\u200b" + secret[len(secret)/2:],
				strings.Join(strings.Split(secret, ""), "\u00ad"), // after every character
			} {
				for _, p := range cutPlacements[:5] {
					for k := p.cut - len(secret) - 1; k <= p.cut+1; k++ {
						var logs logBuffer
						c := echoClient(t, testAuthToken, &logs, p.status, p.reply(k, split))
						checkNoPiece(t, c, &logs, secrets, false, fmt.Sprintf("%s: %q at %d", p.name, secret[:8], k))
					}
				}
			}
		})
	}
}

// TestSuccessfulAPIIDIsCleaned: the api_id of a successful reply is
// cleaned, redacted and cut as an error's is before it is returned or
// logged, so that logging it as the README does forges no line.
func TestSuccessfulAPIIDIsCleaned(t *testing.T) {
	t.Parallel()
	apiID := "a\nlevel=ERROR msg=forged \x1b[2J " + testBasic + " " + testAuthToken + strings.Repeat("x", 2000)
	quoted, _ := json.Marshal(apiID)
	body := `{"api_id":` + string(quoted) + `,"error":"","phlo_id":"p","node_id":"n","name":"x","phlo_run_id":"r"}`
	var logs logBuffer
	c := echoClient(t, testAuthToken, &logs, 201, body)
	ctx := context.Background()
	ids := map[string]func() (any, error){
		"hold": func() (any, error) { return c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx) },
		"call": func() (any, error) {
			return c.Phlo("p").MultiPartyCall("n").Call(ctx, phlo.CallParams{TriggerSource: "a", To: "b"})
		},
		"get":      func() (any, error) { return c.Phlo("p").Get(ctx) },
		"get node": func() (any, error) { return c.Phlo("p").MultiPartyCall("n").Get(ctx) },
		"bridge":   func() (any, error) { return c.Phlo("p").ConferenceBridge("n").Get(ctx) },
		"run":      func() (any, error) { return c.Phlo("p").Run(ctx, nil) },
		"get run":  func() (any, error) { return c.Phlo("p").GetRun(ctx, "r") },
		"Do": func() (any, error) {
			var r phlo.ActionResponse
			err := c.Do(ctx, phlo.Request{Method: "GET", Path: []string{"x"}}, &r)
			return &r, err
		},
	}
	for name, get := range ids {
		v, err := get()
		require.NoError(t, err, name)
		id := reflect.ValueOf(v).Elem().FieldByName("APIID").String()
		assert.LessOrEqual(t, len(id), 128, name)
		checkOneLine(t, id)
		assert.True(t, strings.HasPrefix(id, "a level=ERROR msg=forged [2J [redacted] [redacted]xxx"), "%s: %q", name, id)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		assert.NotContains(t, line, "\\n", "a log record holds a newline")
		assert.Equal(t, "", leak(line, secretForms(testAuthID, testAuthToken)))
	}
	assert.Contains(t, logs.String(), `"api_id":"a level=ERROR msg=forged [2J [redacted]`)
}

// proxyUser and proxyPass are credentials in HTTP_PROXY.
const (
	proxyUser = "proxy-user-7"
	proxyPass = "pr0xy-P@ss-word-42"
)

// TestProxyCredentialsAreRedacted: the user name and password of the proxy
// that HTTP_PROXY names, and the Proxy-Authorization value net/http builds
// from them, are redacted like the auth token when the proxy echoes them,
// at every offset around the error text's cut.
func TestProxyCredentialsAreRedacted(t *testing.T) {
	// A proxy on loopback that echoes the request's headers.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pad := r.URL.Query().Get("pad")
		w.WriteHeader(http.StatusProxyAuthRequired)
		var b strings.Builder
		b.WriteString(`{"api_id":"` + pad + proxyUser + `","error":"` + pad)
		r.Header.Write(&b)
		b.WriteString(" user " + proxyUser + " password " + proxyPass + `"}`)
		io.WriteString(w, strings.ReplaceAll(b.String(), "\r\n", " "))
	}))
	defer proxy.Close()
	proxyURL := "http://" + url.UserPassword(proxyUser, proxyPass).String() + "@" + strings.TrimPrefix(proxy.URL, "http://")
	t.Setenv("HTTP_PROXY", proxyURL)
	b64 := base64.StdEncoding.EncodeToString([]byte(proxyUser + ":" + proxyPass))
	secrets := append(secretForms(testAuthID, testAuthToken), proxyUser, proxyPass, "Basic "+b64, b64)

	// The transport reads the proxy from the environment as net/http's
	// ProxyFromEnvironment would, except that it does not skip loopback.
	hc := &http.Client{Transport: &http.Transport{Proxy: func(*http.Request) (*url.URL, error) {
		return url.Parse(proxyURL)
	}}}
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL("http://127.0.0.1:9"),
		phlo.WithHTTPClient(hc), phlo.WithRetryPolicy(phlo.RetryPolicy{}), phlo.WithLogger(logger))
	require.NoError(t, err)
	for k := 0; k < 600; k += 7 {
		err := c.Do(context.Background(), phlo.Request{Method: "GET", Path: []string{"x"}, Query: url.Values{"pad": {strings.Repeat("p", k)}}}, nil)
		var apiErr *phlo.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusProxyAuthRequired, apiErr.StatusCode)
		if k == 0 {
			require.Contains(t, apiErr.Message, "Proxy-Authorization: [redacted]", "the proxy did not echo")
		}
		for _, s := range []string{err.Error(), apiErr.Message, apiErr.APIID, string(apiErr.Body), logs.String()} {
			if piece := leak(s, secrets); piece != "" {
				t.Fatalf("at %d, %q shows: %.300q", k, piece, s)
			}
		}
	}
}

// TestUnparsableProxySettingIsRedacted: a proxy setting net/http cannot
// parse, which it quotes whole in its error, shows none of its
// credentials.
func TestUnparsableProxySettingIsRedacted(t *testing.T) {
	bad := "http://" + proxyUser + ":" + proxyPass + "@[::1%zz]:8080"
	t.Setenv("HTTP_PROXY", bad)
	hc := &http.Client{Transport: &http.Transport{Proxy: func(*http.Request) (*url.URL, error) {
		_, err := url.Parse(bad)
		return nil, fmt.Errorf("invalid proxy address %q: %w", bad, err)
	}}}
	c, err := phlo.NewRestClient(testAuthID, testAuthToken, phlo.WithBaseURL("http://127.0.0.1:9"),
		phlo.WithHTTPClient(hc), phlo.WithRetryPolicy(phlo.RetryPolicy{}))
	require.NoError(t, err)
	err = c.Do(context.Background(), phlo.Request{Method: "GET", Path: []string{"x"}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid proxy address")
	assert.Equal(t, "", leak(err.Error(), []string{proxyPass, bad}), err.Error())
}
