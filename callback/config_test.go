package callback_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo/callback"
)

// TestMisconfigurationFailsAtStartUp: a configuration that cannot work is
// an error from NewVerifier and a panic from Verify, naming the mistake,
// never a refusal at request time.
func TestMisconfigurationFailsAtStartUp(t *testing.T) {
	t.Parallel()
	store := callback.NewMemoryNonceStore(10)
	cases := []struct {
		name  string
		token string
		opts  []callback.Option
		says  string
	}{
		{"no token", "", []callback.Option{atExample}, "no auth token"},
		{"no token, empty extra", "", []callback.Option{atExample, callback.WithAuthTokens()}, "no auth token"},
		{"empty extra token", token, []callback.Option{atExample, callback.WithAuthTokens("a", "")}, "empty token"},
		{"neither public URL nor hosts", token, nil, "WithPublicURL or WithAllowedHosts"},
		{"both public URL and hosts", token, []callback.Option{atExample, callback.WithPublicURL("https://example.com")}, "both"},
		{"forwarded headers with a public URL", token, []callback.Option{callback.WithPublicURL("https://example.com"), callback.WithForwardedHeaders()}, "WithForwardedHeaders"},
		{"public URL without a scheme", token, []callback.Option{callback.WithPublicURL("callbacks.example.com")}, "WithPublicURL"},
		{"public URL with a query", token, []callback.Option{callback.WithPublicURL("https://example.com/?a=1")}, "WithPublicURL"},
		{"public URL of another scheme", token, []callback.Option{callback.WithPublicURL("ftp://example.com")}, "WithPublicURL"},
		{"no hosts", token, []callback.Option{callback.WithAllowedHosts()}, "at least one host"},
		{"host with a scheme", token, []callback.Option{callback.WithAllowedHosts("https://example.com")}, "https://example.com"},
		{"host with a path", token, []callback.Option{callback.WithAllowedHosts("example.com/cb")}, "example.com/cb"},
		{"host with an empty port", token, []callback.Option{callback.WithAllowedHosts("example.com:")}, "example.com:"},
		{"host with a bad port", token, []callback.Option{callback.WithAllowedHosts("example.com:http")}, "example.com:http"},
		{"empty host", token, []callback.Option{callback.WithAllowedHosts("")}, `""`},
		{"nil store", token, []callback.Option{atExample, callback.WithNonceStore(nil, time.Hour)}, "needs a store"},
		{"zero window", token, []callback.Option{atExample, callback.WithNonceStore(store, 0)}, "window"},
		{"negative window", token, []callback.Option{atExample, callback.WithNonceStore(store, -time.Second)}, "window"},
		{"nil error handler", token, []callback.Option{atExample, callback.WithErrorHandler(nil)}, "WithErrorHandler"},
	}
	for _, c := range cases {
		v, err := callback.NewVerifier(c.token, c.opts...)
		assert.Nil(t, v, c.name)
		require.ErrorIs(t, err, callback.ErrInvalidConfig, c.name)
		assert.Contains(t, err.Error(), c.says, c.name)
		assert.PanicsWithValue(t, "callback.Verify: "+strings.TrimPrefix(err.Error(), "callback: "), func() { callback.Verify(c.token, echo, c.opts...) }, c.name)
	}
}

func TestNilHandlerPanics(t *testing.T) {
	t.Parallel()
	v, err := callback.NewVerifier(token, atExample)
	require.NoError(t, err)
	assert.PanicsWithValue(t, "callback: Verifier.Handler needs a handler to pass requests on to", func() { v.Handler(nil) })
	assert.Panics(t, func() { callback.Verify(token, nil, atExample) })
}

// TestNilOptionIgnored: a nil Option is skipped, as an option that was
// left out.
func TestNilOptionIgnored(t *testing.T) {
	t.Parallel()
	v, err := callback.NewVerifier(token, nil, atExample, nil)
	require.NoError(t, err)
	w := serve(v.Handler(echo), signed(t, "GET", "https://example.com/cb?a=1", nil))
	assert.Equal(t, http.StatusOK, w.Code)
}

// TestZeroVerifierRefusesEverything: a Verifier not built by NewVerifier
// knows no token and no host, and passes nothing on.
func TestZeroVerifierRefusesEverything(t *testing.T) {
	t.Parallel()
	for _, v := range []*callback.Verifier{nil, {}} {
		reached := false
		h := v.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
		w := serve(h, signed(t, "GET", "https://example.com/cb?a=1", nil))
		assert.Equal(t, http.StatusForbidden, w.Code)
		assert.False(t, reached)
	}
}

// TestOneVerifierManyHandlers: the handlers of one Verifier share its
// nonces, so a request accepted by one is a replay to the other.
func TestOneVerifierManyHandlers(t *testing.T) {
	t.Parallel()
	v, err := callback.NewVerifier(token, atExample)
	require.NoError(t, err)
	a, b := v.Handler(echo), v.Handler(echo)
	r := signed(t, "GET", "https://example.com/cb?a=1", nil)
	again := r.Clone(r.Context())
	assert.Equal(t, http.StatusOK, serve(a, r).Code)
	assert.Equal(t, http.StatusConflict, serve(b, again).Code)
	assert.False(t, strings.Contains(serve(b, again).Body.String(), token))
}
