package callback_test

import (
	"errors"
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
		// r.PostForm holds the form the signature covered, and nothing else.
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

// A refusal says why. Here a proxy in front of the service ends TLS and
// sends on plain HTTP without X-Forwarded-Proto, so the URL the verifier
// computes the signature over starts with http://, not the https:// Plivo
// signed: the error shows it.
func ExampleWithErrorHandler() {
	const authToken = "your-auth-token"
	events := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	handler := callback.Verify(authToken, events,
		callback.WithAllowedHosts("callbacks.example.com"),
		callback.WithForwardedHeaders(),
		callback.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Println("refused:", err)
			fmt.Println("signature mismatch:", errors.Is(err, callback.ErrSignatureMismatch))
			callback.DefaultErrorHandler(w, r, err)
		}))

	req := httptest.NewRequest("GET", "http://10.0.0.5:8080/plivo/answer?CallUUID=c-1", nil)
	req.Header.Set("X-Forwarded-Host", "callbacks.example.com")
	maps.Copy(req.Header, phlotest.Sign(authToken, "GET", "https://callbacks.example.com/plivo/answer?CallUUID=c-1", nil))
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	fmt.Println("status", w.Code)
	// Output:
	// refused: callback: signature does not match: V3 signature computed over http://callbacks.example.com/plivo/answer?CallUUID=c-1
	// signature mismatch: true
	// status 403
}
