// Package callback verifies the requests Plivo sends to a service: the
// event callbacks of a PHLO and the HTTP requests of its nodes, which Plivo
// signs with the account's (or sub-account's) auth token.
//
// Put Verify in front of the handler that receives them:
//
//	http.Handle("/plivo/events", callback.Verify(authToken, eventsHandler))
//
// A request whose signature does not match gets 403 and never reaches the
// handler; one that matches reaches it with its body intact. Behind a proxy
// or a load balancer, tell Verify the address Plivo calls with
// WithPublicURL. During a token rotation, WithAuthTokens accepts more than
// one.
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
// Every comparison is in constant time (hmac.Equal), and nothing here logs
// or prints a signature or a token.
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
// of X-Plivo-Signature-V3, is the V3 signature of a request: uri is the URL
// Plivo called, query included, method its method, nonce the value of
// X-Plivo-Signature-V3-Nonce, and params the request's form parameters (nil
// for a GET, whose parameters are in its query).
func ValidateV3(authToken, uri, method, nonce, signatures string, params url.Values) bool {
	if authToken == "" || nonce == "" || signatures == "" {
		return false
	}
	want, ok := signatureV3(authToken, uri, method, nonce, params)
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
	return hmac.Equal([]byte(want), []byte(strings.TrimSpace(signature)))
}

// SignatureV3 returns the V3 signature Plivo sends for a request, or "" for
// a uri that is not an absolute http or https URL. It is for tests that
// sign requests of their own, such as phlotest.Sign.
func SignatureV3(authToken, uri, method, nonce string, params url.Values) string {
	sig, _ := signatureV3(authToken, uri, method, nonce, params)
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
		if hmac.Equal([]byte(want), []byte(strings.TrimSpace(c))) {
			match = true
		}
	}
	return match
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
	_, b, ok := base(uri)
	if !ok {
		return "", false
	}
	return sign(authToken, b+nonce), true
}

func signatureV3(authToken, uri, method, nonce string, params url.Values) (string, bool) {
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
	return sign(authToken, s.String()), true
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
