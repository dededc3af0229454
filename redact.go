package phlo

import (
	"encoding/base64"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// redactor hides credentials in whatever a server or a proxy sends back,
// before it reaches an error, a log record or APIError.Body. Besides each
// secret whole, it replaces every window of window bytes of each secret
// form, so that a secret split by white space, a line wrap or a tag, or
// echoed from an offset or cut short, shows no piece of window bytes or
// more: where a window matches, the rest of the secret's run is matched by
// the next one, and at most window-1 bytes are left after the last.
type redactor struct {
	// needles are replaced whole only: the auth ID, a proxy setting, a
	// secret shorter than window.
	needles []needle
	// forms are the secret forms of window bytes or more, each ended by a
	// NUL: replaced whole and in every window. One string, so that a client
	// costs little until a server echoes something back.
	forms string
	// longest is the length in bytes of the longest needle or form. A text
	// is read, and folded, at least this far past any point where it is
	// cut, so that every secret that begins before the cut is whole when it
	// is looked for.
	longest int
	// replacer replaces every needle, form and window, longer ones first,
	// in one pass; built once, on first use, since the credentials do not
	// change.
	once     sync.Once
	replacer *strings.Replacer
}

// needle is one form of a secret and what it reads as.
type needle struct {
	text, with string
}

const (
	redacted = "[redacted]"
	// window is the length of the shortest piece of a secret that is
	// redacted wherever it shows.
	window = 8
	// authIDText is what the auth ID reads as, as it does in paths.
	authIDText = "{auth_id}"
)

// newRedactor hides the auth token, the basic auth value in each of the
// forms a server may echo it (the header value, its base64 padded or not,
// with JSON-escaped slashes), the base64 of the token alone, the same for
// the user name and password of the proxies the environment names, and
// shows the auth ID as "{auth_id}", as paths do. The auth ID is an
// identifier, not a secret: only the whole of it is replaced.
func newRedactor(authID, authToken, basic string) *redactor {
	r := &redactor{}
	r.add(authID, authIDText)
	r.addSecret(authToken)
	r.addBasic(basic)
	for _, name := range proxyEnv {
		r.addProxy(os.Getenv(name))
	}
	return r
}

// proxyEnv are the variables net/http's ProxyFromEnvironment reads proxies
// from. Both spellings are read, whichever net/http would pick: hiding a
// secret it does not use costs nothing.
var proxyEnv = []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"}

func (r *redactor) add(text, with string) {
	if text == "" || slices.Contains(r.needles, needle{text, with}) {
		return
	}
	r.needles = append(r.needles, needle{text, with})
	r.longest = max(r.longest, len(text))
}

// addWindows adds text to be replaced whole and in every window.
func (r *redactor) addWindows(text string) {
	if len(text) < window {
		r.add(text, redacted)
		return
	}
	if !strings.Contains(r.forms, text+"\x00") {
		r.forms += text + "\x00"
		r.longest = max(r.longest, len(text))
	}
}

// addSecret adds a raw secret and its base64 at each of the three byte
// alignments it may have inside a longer encoded text: the characters of
// base64(prefix+secret) that depend on the secret's bytes alone.
func (r *redactor) addSecret(secret string) {
	r.addWindows(secret)
	for k := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x00", k) + secret))
		bits := 8 * (k + len(secret))
		from, to := (8*k+5)/6, bits/6 // characters wholly inside the secret's bits
		if from < to {
			r.addWindows(enc[from:to])
		}
	}
}

// addBasic adds the forms of a base64 basic auth value.
func (r *redactor) addBasic(b64 string) {
	r.addWindows("Basic " + b64)
	r.addWindows(b64)
	r.addWindows(strings.TrimRight(b64, "="))
	r.addWindows(strings.ReplaceAll(b64, "/", `\/`))
}

// addProxy adds the credentials in a proxy setting, parsed as net/http
// parses it: a value that is not an http, https or socks5 URL is read
// again with "http://" before it. A value that carries credentials is a
// secret as a whole too, since net/http quotes one it cannot parse; only
// the whole of it is replaced, since the rest names the proxy's host.
func (r *redactor) addProxy(value string) {
	if value == "" {
		return
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
		if v, err2 := url.Parse("http://" + value); err2 == nil {
			u, err = v, nil
		}
	}
	if err != nil || u.User == nil {
		if strings.Contains(value, "@") {
			r.add(value, redacted)
		}
		return
	}
	r.add(value, redacted)
	user := u.User.Username()
	pass, _ := u.User.Password()
	r.addWindows(u.User.String()) // as escaped in the URL
	r.addSecret(user)
	r.addSecret(pass)
	// The Proxy-Authorization header net/http sends.
	r.addBasic(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
}

// build builds the replacer. What replaces a needle is kept as it is, so
// that a window never mangles "{auth_id}" or "[redacted]" when a text is
// redacted again; then longer texts come first, so that a whole secret
// reads as one "[redacted]".
func (r *redactor) build() {
	whole := slices.Clone(r.needles)
	windows := map[string]bool{}
	for form := range strings.SplitSeq(strings.TrimSuffix(r.forms, "\x00"), "\x00") {
		if form == "" {
			continue
		}
		whole = append(whole, needle{form, redacted})
		for i := 0; i+window <= len(form); i++ {
			windows[form[i:i+window]] = true
		}
	}
	slices.SortStableFunc(whole, func(a, b needle) int { return len(b.text) - len(a.text) })
	pairs := []string{authIDText, authIDText, redacted, redacted}
	for _, n := range whole {
		if len(n.text) >= window {
			pairs = append(pairs, n.text, n.with)
		}
	}
	for _, w := range slices.Sorted(maps.Keys(windows)) {
		pairs = append(pairs, w, redacted)
	}
	for _, n := range whole {
		if len(n.text) < window {
			pairs = append(pairs, n.text, n.with)
		}
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// contains reports whether s holds any needle, or any window of a form.
func (r *redactor) contains(s string) bool {
	for _, n := range r.needles {
		if strings.Contains(s, n.text) {
			return true
		}
	}
	for i := 0; i+window <= len(s) && r.forms != ""; i++ {
		if strings.Contains(r.forms, s[i:i+window]) {
			return true
		}
	}
	return false
}

// redact replaces every needle and window in s.
func (r *redactor) redact(s string) string {
	return r.redactPrefix(s, len(s))
}

// redactPrefix returns the first n bytes of s with every needle and window
// replaced. A secret that runs past n is cut there: its windows before n
// are replaced, and at most window-1 bytes of it are left.
func (r *redactor) redactPrefix(s string, n int) string {
	r.once.Do(r.build)
	return r.replacer.Replace(s[:n])
}

// clean makes a server's words fit for an error or a log record: every
// secret replaced, on one line (see fold), at most max bytes. Secrets are
// replaced in the whole text as it came, and again after fold has removed
// what could hide one (a zero-width space inside a token), each time before
// the text is cut. html drops the tags of an HTML page.
func (r *redactor) clean(s string, max int, html bool) string {
	if !html && isPlain(s, max) && !r.contains(s) {
		return s // an api_id, as the runner sends it: no allocation
	}
	t := fold(r.redact(s), max+r.longest, html)
	if len(t) <= max {
		return cutText(r.redact(t), max)
	}
	n := max
	for n > 0 && !utf8.RuneStart(t[n]) {
		n--
	}
	return ellipsize(r.redactPrefix(t, n), max)
}

// isPlain reports whether fold would return s as it is, within max bytes.
func isPlain(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// apiIDOf returns the api_id field of the SDK's own replies, so that a
// successful reply's api_id is cleaned as an error's is before the caller
// sees it; nil for any other type.
func apiIDOf(out any) *string {
	switch v := out.(type) {
	case *ActionResponse:
		return &v.APIID
	case *NodeInfo:
		return &v.APIID
	case *PhloInfo:
		return &v.APIID
	case *RunResult:
		return &v.APIID
	case *PhloRun:
		return &v.APIID
	}
	return nil
}
