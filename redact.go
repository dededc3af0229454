package phlo

import (
	"encoding/base64"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// redactor hides credentials in whatever a server or a proxy sends back,
// before it reaches an error, a log record or APIError.Body. It looks for
// every secret in the whole of a text before any of it is cut, so that no
// cut leaves a piece of one.
type redactor struct {
	needles []needle
	// longest is the length in bytes of the longest needle. A text is read,
	// and folded, at least this far past any point where it is cut, so that
	// every secret that begins before the cut is whole when it is looked
	// for.
	longest int
}

// needle is one form of a secret and what it reads as.
type needle struct {
	text, with string
}

const redacted = "[redacted]"

// newRedactor hides the auth token, the basic auth value in each of the
// forms a server may echo it (the header value, its base64 padded or not,
// with JSON-escaped slashes), the same for the user name and password of
// the proxies the environment names, and shows the auth ID as "{auth_id}",
// as paths do.
func newRedactor(authID, authToken, basic string) *redactor {
	r := &redactor{}
	r.add(authID, "{auth_id}")
	r.add(authToken, redacted)
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

// addBasic adds the forms of a base64 basic auth value.
func (r *redactor) addBasic(b64 string) {
	r.add("Basic "+b64, redacted)
	r.add(b64, redacted)
	r.add(strings.TrimRight(b64, "="), redacted)
	r.add(strings.ReplaceAll(b64, "/", `\/`), redacted)
}

// addProxy adds the credentials in a proxy setting, parsed as net/http
// parses it: a value that is not an http, https or socks5 URL is read
// again with "http://" before it. A value that carries credentials is a
// secret as a whole too, since net/http quotes one it cannot parse.
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
	r.add(u.User.String(), redacted) // as escaped in the URL
	r.add(user, redacted)
	r.add(pass, redacted)
	// The Proxy-Authorization header net/http sends.
	r.addBasic(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
}

// contains reports whether s holds any needle.
func (r *redactor) contains(s string) bool {
	for _, n := range r.needles {
		if strings.Contains(s, n.text) {
			return true
		}
	}
	return false
}

// redact replaces every needle in s.
func (r *redactor) redact(s string) string {
	return r.redactPrefix(s, len(s))
}

// span is where a needle was found, and what replaces it.
type span struct {
	start, end int
	with       string
}

// redactPrefix returns the first n bytes of s with every needle replaced:
// needles are looked for in the whole of s, so that one that begins before
// n and ends after it is replaced whole rather than cut. Needles that
// overlap are replaced as one, so that no piece of either shows.
func (r *redactor) redactPrefix(s string, n int) string {
	var spans []span
	for _, nd := range r.needles {
		for from := 0; from < n; {
			i := strings.Index(s[from:], nd.text)
			if i < 0 || from+i >= n {
				break
			}
			spans = append(spans, span{from + i, from + i + len(nd.text), nd.with})
			from += i + 1
		}
	}
	if len(spans) == 0 {
		return s[:n]
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	b.Grow(n)
	pos := 0
	for i := 0; i < len(spans); {
		start, end, with := spans[i].start, spans[i].end, spans[i].with
		for i++; i < len(spans) && spans[i].start < end; i++ {
			end = max(end, spans[i].end)
			if spans[i].with == redacted {
				with = redacted
			}
		}
		b.WriteString(s[pos:start])
		b.WriteString(with)
		pos = end
	}
	if pos < n {
		b.WriteString(s[pos:n])
	}
	return b.String()
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
