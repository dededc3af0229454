package phlo_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// tokenBase64Forms are the characters of base64(prefix+token), for a
// prefix of 0, 1 and 2 bytes, that depend on the token's bytes alone: what
// a server shows when it encodes the token inside some longer text.
func tokenBase64Forms(token string) []string {
	var forms []string
	for k := range 3 {
		a := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", k) + token + "a"))
		b := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", k) + token + "b"))
		// Keep the run where both encodings agree: the token's own part.
		i, j := 0, len(a)
		for i < j && a[i] != b[i] {
			i++
		}
		for j > i && a[j-1] != b[j-1] {
			j--
		}
		forms = append(forms, a[i:j])
	}
	return forms
}

// replyShapes put an echoed text where a server may: an HTML page quoting
// the request, a JSON error's text and api_id, a plain text body.
var replyShapes = []struct {
	name   string
	status int
	reply  func(s string) string
}{
	{"HTML 401", 401, func(s string) string {
		return "<html><body><pre>Your request: " + s + "</pre></body></html>"
	}},
	{"JSON error", 400, func(s string) string {
		return `{"api_id":"` + s + `","error":"denied: ` + s + `"}`
	}},
	{"plain text", 502, func(s string) string { return "bad gateway, you sent " + s + " ok" }},
}

// TestNoPieceOfASplitOrShiftedSecret: a secret echoed split by a line
// wrap, a space, a <wbr> tag or a zero-width space at every offset, the
// basic auth value from offsets 1 to 4 or cut short, the token without its
// first character and the base64 of the token at each alignment show no
// piece of 8 bytes or more of any secret form in the error, APIError's
// fields (Body included) or the log.
func TestNoPieceOfASplitOrShiftedSecret(t *testing.T) {
	t.Parallel()
	for _, token := range []string{testAuthToken, slashToken} {
		// "Basic " is no secret: a piece of the header value is a piece of
		// its base64, which is checked, and a text's own " " before 7 bytes
		// of it must not count as a leak.
		secrets := append(secretForms(testAuthID, token)[2:], token)
		secrets = append(secrets, tokenBase64Forms(token)...)
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(testAuthID+":"+token))
		echoes := map[string]string{
			"token minus its first byte": token[1:],
			"basic value cut by 3":       basic[:len(basic)-3],
			"token cut by 3":             token[:len(token)-3],
		}
		for o := 1; o <= 4; o++ {
			echoes[fmt.Sprintf("basic value from %d", o)] = basic[o:]
			echoes[fmt.Sprintf("basic value from %d cut by 3", o)] = basic[o : len(basic)-3]
		}
		for k := range 3 {
			for _, tail := range []string{"", "!", "!!", "tail!"} {
				enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("p", k) + token + tail))
				echoes[fmt.Sprintf("base64 at %d+%q", k, tail)] = enc
			}
		}
		for _, secret := range []string{token, basic, basic[len("Basic "):]} {
			for _, sep := range []string{"\n", " ", "<wbr>", "\u200b", "\r\n  "} {
				for i := 1; i < len(secret); i++ {
					echoes[fmt.Sprintf("%.8s split by %q at %d", secret, sep, i)] = secret[:i] + sep + secret[i:]
				}
			}
		}
		for _, shape := range replyShapes {
			t.Run(shape.name, func(t *testing.T) {
				t.Parallel()
				for what, echo := range echoes {
					var logs logBuffer
					c := echoClient(t, token, &logs, shape.status, shape.reply(echo))
					checkNoPiece(t, c, &logs, secrets, true, what)
				}
			})
		}
	}
}

// TestWindowsKeepAuthIDText: the auth ID next to pieces of the token reads
// "{auth_id}" whole, however the token's pieces around it are redacted.
func TestWindowsKeepAuthIDText(t *testing.T) {
	t.Parallel()
	for _, echo := range []string{
		testAuthID + ":" + testAuthToken,
		testAuthID + testAuthToken[3:],
		testAuthToken[:12] + testAuthID + testAuthToken[12:],
		testAuthToken[:5] + "\u200b" + testAuthID + "\u200b" + testAuthToken[5:],
	} {
		var logs logBuffer
		c := echoClient(t, testAuthToken, &logs, 400, `{"api_id":"x","error":"`+echo+`"}`)
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(t.Context())
		if err == nil || !strings.Contains(err.Error(), "{auth_id}") {
			t.Fatalf("%q: error %v does not show {auth_id} whole", echo, err)
		}
		if piece := leak(err.Error()+logs.String(), secretForms(testAuthID, testAuthToken)); piece != "" {
			t.Fatalf("%q: shows %q", echo, piece)
		}
	}
}
