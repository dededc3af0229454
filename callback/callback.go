// Package callback verifies the requests Plivo sends to a service: the
// event callbacks of a PHLO and the HTTP requests of its nodes, which Plivo
// signs with the account's (or sub-account's) auth token.
//
// Put [Verify] in front of the handler that receives them, and say which
// URL Plivo calls, from configuration: the hosts it may name
// ([WithAllowedHosts]), or the whole public URL ([WithPublicURL]), never
// what a request's headers claim:
//
//	http.Handle("/plivo/events", callback.Verify(authToken, events,
//		callback.WithAllowedHosts("callbacks.example.com")))
//
// A misconfiguration is found when the program starts: [NewVerifier]
// returns it as an error, [Verify] panics with it.
//
// # What a verified request guarantees
//
// A request reaches the next handler only if an X-Plivo-Signature-V3
// computed with one of the tokens covers the URL Plivo called (scheme,
// host, port, path, query), its nonce and, for a form body, the form's
// parameters; and only once: its nonce is claimed in a [NonceStore] for a
// window ([DefaultReplayWindow], or [WithNonceStore]'s), and a second
// request with it is refused with [ErrReplayed]. What the handler reads
// through net/http (r.Form, r.PostForm, r.FormValue, r.PostFormValue,
// r.ParseForm, r.ParseMultipartForm, r.FormFile) is exactly what was
// verified. The reasons for a refusal are listed with [ErrNoSignature].
//
// What Plivo's scheme leaves uncovered, and so does a verified request:
//
//   - A JSON body is not signed at all (only the URL and nonce are). It is
//     passed on because the nonce is used once: a captured signature can
//     carry one body of an attacker's choosing at most, once, and only if
//     the genuine request has not arrived first.
//   - The order of a key's repeated values: they are signed sorted, so
//     a=1&a=2 and a=2&a=1 have one signature.
//   - Where keys and values end: form parameters are signed as key and
//     value with nothing between them or between pairs, so ab=c and a=bc
//     have one signature; query values are signed unescaped, so
//     ?a=1%26b%3D2 and ?a=1&b=2 have one signature.
//   - The method, but for the shape of the string: a GET and a POST with
//     no form parameters sign alike.
//   - Headers other than the signature's; and, for V2 (accepted only with
//     [WithSignatureV2]), everything but scheme://host[:port]/path and the
//     nonce: the query and the body too.
//
// # The signatures
//
// Plivo sends X-Plivo-Signature-V3 (one or more signatures, separated by
// commas) with X-Plivo-Signature-V3-Nonce, and the older
// X-Plivo-Signature-V2 with X-Plivo-Signature-V2-Nonce. Each is the base64
// (standard) HMAC-SHA256, keyed by the auth token, of a string built from the
// URL Plivo called, as Plivo's official SDKs build it:
//
//   - V2: scheme://host[:port]/path, then the nonce.
//   - V3: scheme://host[:port]/path; then, for a GET with a query or
//     parameters, "?" and the query and the parameters merged (a key of the
//     query wins), sorted by key, as k=v joined by "&"; for any other method
//     with a query or parameters, "?", the sorted query (if any) as k=v
//     joined by "&", "." when both exist, and the parameters sorted by key
//     as kv with no separator; then "." and the nonce. A key with several
//     values gives each value, sorted, in turn. The path is taken as it was
//     sent, escaped; query values are unescaped.
//
// Every comparison is in constant time ([hmac.Equal]), and nothing here
// logs or prints a signature or a token.
package callback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// The headers Plivo signs its requests with.
const (
	HeaderSignatureV3 = "X-Plivo-Signature-V3"
	HeaderNonceV3     = "X-Plivo-Signature-V3-Nonce"
	HeaderSignatureV2 = "X-Plivo-Signature-V2"
	HeaderNonceV2     = "X-Plivo-Signature-V2-Nonce"
)

// ValidateV3 reports whether one of signatures, the comma-separated value
// of X-Plivo-Signature-V3, is the V3 signature of a request: method is its
// method, uri the URL Plivo called, query included, nonce the value of
// X-Plivo-Signature-V3-Nonce, and params the request's form parameters (nil
// for a GET, whose parameters are in its query).
//
// Method comes before uri, as in [http.NewRequest]; 0.2.0 took uri first.
// Both are strings, so a call written for that order still compiles, and
// now always reports false.
func ValidateV3(authToken, method, uri, nonce, signatures string, params url.Values) bool {
	if authToken == "" || nonce == "" || signatures == "" {
		return false
	}
	want, ok := signatureV3(authToken, method, uri, nonce, params)
	if !ok {
		return false
	}
	return anyEqual(want, signatures)
}

// ValidateV2 reports whether signature, the value of X-Plivo-Signature-V2,
// is the V2 signature of a request to uri with nonce, the value of
// X-Plivo-Signature-V2-Nonce.
func ValidateV2(authToken, uri, nonce, signature string) bool {
	if authToken == "" || nonce == "" || signature == "" {
		return false
	}
	want, ok := signatureV2(authToken, uri, nonce)
	if !ok {
		return false
	}
	return equal(want, signature)
}

// SignatureV3 returns the V3 signature Plivo sends for a request with
// method to uri, or "" for a uri that is not an absolute http or https URL.
// It is for tests that sign requests of their own, such as
// [github.com/phlogo/phlo/phlotest.Sign].
//
// Method comes before uri, as in [http.NewRequest]; 0.2.0 took uri first.
// A call written for that order still compiles, and now returns "".
func SignatureV3(authToken, method, uri, nonce string, params url.Values) string {
	sig, _ := signatureV3(authToken, method, uri, nonce, params)
	return sig
}

// SignatureV2 returns the V2 signature Plivo sends for a request, or "" for
// a uri that is not an absolute http or https URL.
func SignatureV2(authToken, uri, nonce string) string {
	sig, _ := signatureV2(authToken, uri, nonce)
	return sig
}

// anyEqual compares want with each comma-separated candidate in constant
// time, and with all of them, so that the time taken does not say which
// one matched.
func anyEqual(want, candidates string) bool {
	match := false
	for c := range strings.SplitSeq(candidates, ",") {
		if equal(want, c) {
			match = true
		}
	}
	return match
}

// equal compares want with one signature, spaces around it ignored, in
// constant time.
func equal(want, signature string) bool {
	return hmac.Equal([]byte(want), []byte(strings.TrimSpace(signature)))
}

// base returns scheme://host[:port]/path of uri, the path as it was sent.
func base(uri string) (*url.URL, string, bool) {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", false
	}
	return u, u.Scheme + "://" + u.Host + u.EscapedPath(), true
}

func signatureV2(authToken, uri, nonce string) (string, bool) {
	s, ok := stringToSignV2(uri, nonce)
	if !ok {
		return "", false
	}
	return sign(authToken, s), true
}

func signatureV3(authToken, method, uri, nonce string, params url.Values) (string, bool) {
	s, ok := stringToSignV3(method, uri, nonce, params)
	if !ok {
		return "", false
	}
	return sign(authToken, s), true
}

// stringToSignV2 is what a V2 signature is the HMAC of, or false for a uri
// that is not an absolute http or https URL.
func stringToSignV2(uri, nonce string) (string, bool) {
	_, b, ok := base(uri)
	if !ok {
		return "", false
	}
	return b + nonce, true
}

// stringToSignV3 is what a V3 signature is the HMAC of, or false for a uri
// that is not an absolute http or https URL.
func stringToSignV3(method, uri, nonce string, params url.Values) (string, bool) {
	u, b, ok := base(uri)
	if !ok {
		return "", false
	}
	var s strings.Builder
	s.WriteString(b)
	query := u.Query()
	if strings.EqualFold(method, "GET") {
		merged := url.Values{}
		for k, v := range params {
			merged[k] = v
		}
		for k, v := range query {
			merged[k] = v // the query wins, as in Plivo's Python SDK
		}
		if len(merged) > 0 {
			s.WriteByte('?')
			writeSorted(&s, merged, "=", "&")
		}
	} else if len(query) > 0 || len(params) > 0 {
		s.WriteByte('?')
		writeSorted(&s, query, "=", "&")
		if len(query) > 0 && len(params) > 0 {
			s.WriteByte('.')
		}
		writeSorted(&s, params, "", "")
	}
	s.WriteByte('.')
	s.WriteString(nonce)
	return s.String(), true
}

// writeSorted writes v sorted by key, each value of a key sorted in turn,
// as key, between, value, with sep between pairs.
func writeSorted(s *strings.Builder, v url.Values, between, sep string) {
	first := true
	for _, k := range slices.Sorted(maps.Keys(v)) {
		for _, val := range slices.Sorted(slices.Values(v[k])) {
			if !first {
				s.WriteString(sep)
			}
			first = false
			s.WriteString(k)
			s.WriteString(between)
			s.WriteString(val)
		}
	}
}

func sign(authToken, s string) string {
	mac := hmac.New(sha256.New, []byte(authToken))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
