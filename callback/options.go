package callback

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Option configures a [Verifier]. An option given a bad value makes
// [NewVerifier] return an error (and [Verify] panic); a nil Option is
// ignored.
type Option func(*config) error

// config is what the options set; NewVerifier checks it as a whole.
type config struct {
	tokens       []string
	publicURL    *url.URL // scheme, host and an optional path prefix
	allowedHosts []string // host[:port] as given, checked
	forwarded    bool
	v2           bool
	store        NonceStore
	window       time.Duration
	onError      func(http.ResponseWriter, *http.Request, error)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// WithPublicURL sets the scheme://host[:port] Plivo calls: the URL whose
// signature is checked is base followed by the path and query the request
// arrived with, whatever its Host or any other header says. A path in base
// is put before the request's path, for a proxy that strips a prefix. It
// cannot be given with [WithAllowedHosts] or [WithForwardedHeaders].
func WithPublicURL(base string) Option {
	return func(c *config) error {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return invalid("WithPublicURL must be an absolute http or https URL with no query, not %q", base)
		}
		u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), strings.TrimRight(u.RawPath, "/")
		c.publicURL = u
		return nil
	}
}

// WithAllowedHosts sets the hosts Plivo calls, each as host or host:port
// (the port when it is not the scheme's default): the URL whose signature
// is checked is the request's scheme (https when it came over TLS), its
// host when it is one of hosts, and the path and query it arrived with. A
// request naming any other host is refused with [ErrHostNotAllowed]. Hosts
// are compared without regard to case, and a request's default port
// (:80 for http, :443 for https) is ignored; the signature is computed
// over the host as given here. It cannot be given with [WithPublicURL].
func WithAllowedHosts(hosts ...string) Option {
	return func(c *config) error {
		if len(hosts) == 0 {
			return invalid("WithAllowedHosts needs at least one host")
		}
		for _, h := range hosts {
			if !validHost(h) {
				return invalid("WithAllowedHosts: %q is not a host or host:port", h)
			}
		}
		c.allowedHosts = append(c.allowedHosts, hosts...)
		return nil
	}
}

// validHost reports whether h is host or host:port and nothing else.
func validHost(h string) bool {
	u, err := url.Parse("http://" + h)
	if err != nil || u.Host != h || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Hostname() == "" {
		return false
	}
	if _, port, err := net.SplitHostPort(h); err == nil && port == "" {
		return false
	}
	return true
}

// WithForwardedHeaders takes the scheme and the host from
// X-Forwarded-Proto and X-Forwarded-Host, for a service behind a proxy that
// adds them; the host they name must still be one of [WithAllowedHosts].
// Only the last value of each is read, the one the nearest proxy appended:
// the ones before it are the client's to choose. Use it only behind a proxy
// that always sets or appends both.
func WithForwardedHeaders() Option {
	return func(c *config) error {
		c.forwarded = true
		return nil
	}
}

// WithAuthTokens accepts a request signed with any of tokens besides the
// one given to [NewVerifier], as during a rotation of the auth token, or for
// a handler that serves several sub-accounts. Every token must be non-empty.
func WithAuthTokens(tokens ...string) Option {
	return func(c *config) error {
		for _, t := range tokens {
			if t == "" {
				return invalid("WithAuthTokens must not be given an empty token")
			}
		}
		c.tokens = append(c.tokens, tokens...)
		return nil
	}
}

// WithSignatureV2 accepts a request that carries only X-Plivo-Signature-V2.
// Without it, such a request is one without a signature. A V2 signature
// covers scheme://host[:port]/path and the nonce only: not the query, not
// the method, not the body. A request it admits is still used once (its
// nonce is claimed), but whoever captures one can send any query and any
// form or JSON body with it in its place, once.
func WithSignatureV2() Option {
	return func(c *config) error {
		c.v2 = true
		return nil
	}
}

// WithNonceStore sets where the nonces of accepted requests are remembered,
// and for how long: ttl is the replay window. Without it, a [Verifier]
// remembers them in memory (see [NewMemoryNonceStore]) for
// [DefaultReplayWindow]. A service with several replicas gives them one
// shared store, such as the Redis one of module
// github.com/phlogo/phlo/callback/redisnonce, so that every replica sees
// every claim.
func WithNonceStore(store NonceStore, ttl time.Duration) Option {
	return func(c *config) error {
		if store == nil {
			return invalid("WithNonceStore needs a store")
		}
		if ttl <= 0 {
			return invalid("WithNonceStore needs a window above zero, not %v", ttl)
		}
		c.store, c.window = store, ttl
		return nil
	}
}

// WithErrorHandler calls handle for every refused request, in place of the
// plain refusal ([DefaultErrorHandler]), with an error that matches one of
// the reasons ([ErrNoSignature], [ErrSignatureMismatch], ...) and says why:
// to log it, count it, or answer in a form of one's own.
func WithErrorHandler(handle func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(c *config) error {
		if handle == nil {
			return invalid("WithErrorHandler needs a function")
		}
		c.onError = handle
		return nil
	}
}
