package callback_test

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/phlogo/phlo/callback"
	"github.com/phlogo/phlo/phlotest"
)

// A handler for a PHLO's event callbacks, behind Verify. The test signs a
// request as Plivo would, with phlotest.Sign.
func ExampleVerify() {
	const authToken = "your-auth-token"
	events := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm() // the body is intact: Verify read it for the signature
		fmt.Println("event", r.PostForm.Get("Event"), "for", r.PostForm.Get("To"))
	})
	handler := callback.Verify(authToken, events, callback.WithPublicURL("https://callbacks.example.com"))

	params := url.Values{"Event": {"member_hold"}, "To": {"+14155550100"}}
	uri := "https://callbacks.example.com/plivo/events"
	for _, token := range []string{authToken, "someone-else's"} {
		req := httptest.NewRequest("POST", "/plivo/events", strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		maps.Copy(req.Header, phlotest.Sign(token, "POST", uri, params))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		body, _ := io.ReadAll(w.Body)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("status %d %s", w.Code, body)))
	}
	// Output:
	// event member_hold for +14155550100
	// status 200
	// status 403 Forbidden
}
