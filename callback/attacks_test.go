package callback_test

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo/callback"
)

// public is the URL Plivo calls on service A.
const public = "https://a.example.com/plivo/events"

// plivoSends is a genuine request, as Plivo signs it: V3, and V2 besides.
func plivoSends(method, uri, contentType, body string, params url.Values) *http.Request {
	r := httptest.NewRequest(method, uri, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	n := strconv.FormatInt(2e6+nonces.Add(1), 10)
	r.Header.Set(callback.HeaderNonceV3, n)
	r.Header.Set(callback.HeaderSignatureV3, callback.SignatureV3(token, method, uri, n, params))
	r.Header.Set(callback.HeaderNonceV2, n+"2")
	r.Header.Set(callback.HeaderSignatureV2, callback.SignatureV2(token, uri, n+"2"))
	return r
}

// forge is an attacker's request to uri carrying the signature headers of
// a captured one.
func forge(captured *http.Request, method, uri, contentType string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, uri, body)
	for _, h := range []string{callback.HeaderSignatureV3, callback.HeaderNonceV3, callback.HeaderSignatureV2, callback.HeaderNonceV2} {
		if v := captured.Header.Get(h); v != "" {
			r.Header.Set(h, v)
		}
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func multipartBody(t *testing.T) (string, io.Reader) {
	var b strings.Builder
	mw := multipart.NewWriter(&b)
	require.NoError(t, mw.WriteField("Event", "Hangup"))
	require.NoError(t, mw.WriteField("To", "+19995550000"))
	fw, err := mw.CreateFormFile("file", "x.txt")
	require.NoError(t, err)
	io.WriteString(fw, "Hangup")
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), strings.NewReader(b.String())
}

const (
	form         = "application/x-www-form-urlencoded"
	forgedFields = "Event=Hangup&To=%2B19995550000"
)

var (
	capturedGET  = func() *http.Request { return plivoSends("GET", public, "", "", nil) }
	capturedJSON = func() *http.Request {
		return plivoSends("POST", public, "application/json", `{"event":"member_hold"}`, nil)
	}
	capturedForm = func() *http.Request {
		return plivoSends("POST", public, form, "Event=member_hold", url.Values{"Event": {"member_hold"}})
	}
)

// TestAttacks: each is a request an attacker makes from a captured signed
// request (and, for a replay, the genuine delivery before it). None
// reaches the next handler, which reads the form every way net/http offers.
func TestAttacks(t *testing.T) {
	t.Parallel()
	serviceA := []callback.Option{callback.WithAllowedHosts("a.example.com")}
	serviceB := []callback.Option{callback.WithAllowedHosts("b.example.com")}
	// behindProxy is service A behind a proxy that ends TLS: the request
	// arrives in origin form, and the public URL names the scheme and host.
	behindProxy := []callback.Option{callback.WithPublicURL("https://a.example.com")}
	cases := []struct {
		name string
		opts []callback.Option
		send func(t *testing.T) (genuine, attack *http.Request)
		want int
		why  error
	}{
		{"form with a bad escape, on a captured GET's signature", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			return nil, forge(capturedGET(), "POST", public, form, strings.NewReader(forgedFields+"&junk=%zz"))
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"form with a bad escape, on a captured JSON POST's signature", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			return nil, forge(capturedJSON(), "POST", public, form, strings.NewReader(forgedFields+"&junk=%zz"))
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"form with a semicolon", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			return nil, forge(capturedGET(), "POST", public, form, strings.NewReader(forgedFields+";x=1"))
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"form under a malformed media type", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			return nil, forge(capturedGET(), "POST", public, form+"; =", strings.NewReader(forgedFields))
		}, http.StatusUnsupportedMediaType, callback.ErrUnsupportedBody},
		{"form under two Content-Types", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			r := forge(capturedGET(), "POST", public, "text/plain", strings.NewReader(forgedFields))
			r.Header.Add("Content-Type", form)
			return nil, r
		}, http.StatusUnsupportedMediaType, callback.ErrUnsupportedBody},
		{"multipart body", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			ct, body := multipartBody(t)
			return nil, forge(capturedGET(), "POST", public, ct, body)
		}, http.StatusUnsupportedMediaType, callback.ErrUnsupportedBody},
		{"multipart body on a GET", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			ct, body := multipartBody(t)
			return nil, forge(capturedGET(), "GET", public, ct, body)
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"form on a lower-case get, under a key of the query", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			// A GET's signature merges the query over the body's parameters,
			// so To=+19995550000 would not be covered.
			r := plivoSends("get", public+"?To=%2B14155550100", form, "To=%2B19995550000", url.Values{"To": {"+19995550000"}})
			return nil, r
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"body with no Content-Type", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			return nil, forge(capturedGET(), "POST", public, "", strings.NewReader(forgedFields))
		}, http.StatusUnsupportedMediaType, callback.ErrUnsupportedBody},
		{"query with a bad escape", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			return nil, forge(capturedGET(), "GET", public+"?junk=%zz", "", nil)
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"JSON body of the attacker's, after the genuine one", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			genuine := capturedJSON()
			return genuine, forge(genuine, "POST", public, "application/json", strings.NewReader(`{"event":"Hangup"}`))
		}, http.StatusConflict, callback.ErrReplayed},
		{"Host of another service", serviceB, func(t *testing.T) (*http.Request, *http.Request) {
			return nil, forge(capturedForm(), "POST", public, form, strings.NewReader("Event=member_hold"))
		}, http.StatusForbidden, callback.ErrHostNotAllowed},
		{"X-Forwarded-Host without WithForwardedHeaders", serviceB, func(t *testing.T) (*http.Request, *http.Request) {
			r := forge(capturedForm(), "POST", "https://b.example.com/plivo/events", form, strings.NewReader("Event=member_hold"))
			r.Header.Set("X-Forwarded-Host", "a.example.com")
			return nil, r
		}, http.StatusForbidden, callback.ErrSignatureMismatch},
		{"first X-Forwarded-Host, before the proxy's", append(serviceB, callback.WithForwardedHeaders()), func(t *testing.T) (*http.Request, *http.Request) {
			r := forge(capturedForm(), "POST", "http://10.0.0.5:8080/plivo/events", form, strings.NewReader("Event=member_hold"))
			r.Header.Set("X-Forwarded-Host", "a.example.com, b.example.com")
			r.Header.Set("X-Forwarded-Proto", "https, https")
			return nil, r
		}, http.StatusForbidden, callback.ErrSignatureMismatch},
		{"replay", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			genuine := capturedForm()
			return genuine, forge(genuine, "POST", public, form, strings.NewReader("Event=member_hold"))
		}, http.StatusConflict, callback.ErrReplayed},
		{"query hidden behind a fragment mark in the target", behindProxy, func(t *testing.T) (*http.Request, *http.Request) {
			// A URL parser drops "#..." from what is signed; net/http's
			// server keeps it in the query the handler reads.
			return nil, forge(capturedForm(), "POST", "/plivo/events#?"+forgedFields, form, strings.NewReader("Event=member_hold"))
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"fragment mark inside a signed query's value", behindProxy, func(t *testing.T) (*http.Request, *http.Request) {
			captured := plivoSends("GET", public+"?Event=member_hold", "", "", nil)
			return nil, forge(captured, "GET", "/plivo/events?Event=member_hold#Hangup", "", nil)
		}, http.StatusBadRequest, callback.ErrMalformedRequest},
		{"V2 downgrade: V3 stripped, any query and body", serviceA, func(t *testing.T) (*http.Request, *http.Request) {
			r := forge(capturedGET(), "POST", public+"?Event=Hangup", form, strings.NewReader(forgedFields))
			r.Header.Del(callback.HeaderSignatureV3)
			r.Header.Del(callback.HeaderNonceV3)
			return nil, r
		}, http.StatusForbidden, callback.ErrNoSignature},
		{"V2 downgrade after the V3 delivery, with V2 enabled", append(serviceA, callback.WithSignatureV2()), func(t *testing.T) (*http.Request, *http.Request) {
			genuine := capturedGET()
			r := forge(genuine, "POST", public+"?Event=Hangup", form, strings.NewReader(forgedFields))
			r.Header.Del(callback.HeaderSignatureV3)
			r.Header.Del(callback.HeaderNonceV3)
			return genuine, r
		}, http.StatusConflict, callback.ErrReplayed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got error
			opts := append([]callback.Option{callback.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				callback.DefaultErrorHandler(w, r, err)
			})}, c.opts...)
			reader := &formReader{}
			h := callback.Verify(token, reader, opts...)
			genuine, attack := c.send(t)
			if genuine != nil {
				require.Equal(t, http.StatusOK, serve(h, genuine).Code, "the genuine delivery")
				*reader = formReader{}
			}
			w := serve(h, attack)
			assert.Equal(t, c.want, w.Code)
			assert.False(t, reader.reached, "passed on; the handler read %+v", reader.read)
			assert.ErrorIs(t, got, c.why)
		})
	}
}

// TestNoSignatureBodyNeverRead: a request with no signature is refused on
// its headers; not a byte of its body is read.
func TestNoSignatureBodyNeverRead(t *testing.T) {
	t.Parallel()
	body := &recordingBody{r: strings.NewReader(strings.Repeat("a=b&", 1<<18))}
	r := httptest.NewRequest("POST", public, body)
	r.Header.Set("Content-Type", form)
	var got error
	h := callback.Verify(token, echo, callback.WithAllowedHosts("a.example.com"), callback.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		callback.DefaultErrorHandler(w, r, err)
	}))
	w := serve(h, r)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.ErrorIs(t, got, callback.ErrNoSignature)
	assert.Zero(t, body.reads, "the body was read")
}

type recordingBody struct {
	r     io.Reader
	reads int
}

func (b *recordingBody) Read(p []byte) (int, error) {
	b.reads++
	return b.r.Read(p)
}

func (b *recordingBody) Close() error { return nil }

// formReader is a next handler that reads the form every way net/http
// offers, checking every error, and records what it read.
type formReader struct {
	reached bool
	read    map[string]string
}

func (f *formReader) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.reached = true
	f.read = readEveryWay(r)
	io.WriteString(w, f.read["Form"])
}

// readEveryWay reads r's parameters through each of net/http's ways, in
// the order a handler might, and returns what each gave (errors included).
func readEveryWay(r *http.Request) map[string]string {
	read := map[string]string{}
	errText := func(err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return ""
	}
	read["FormValue"] = r.FormValue("Event")
	read["PostFormValue"] = r.PostFormValue("Event")
	read["ParseForm"] = errText(r.ParseForm())
	read["ParseMultipartForm"] = errText(r.ParseMultipartForm(1 << 20))
	_, _, err := r.FormFile("file")
	read["FormFile"] = errText(err)
	_, err = r.MultipartReader()
	read["MultipartReader"] = errText(err)
	read["Form"] = r.Form.Encode()
	read["PostForm"] = r.PostForm.Encode()
	if r.MultipartForm != nil {
		read["MultipartForm"] = url.Values(r.MultipartForm.Value).Encode() + " files " + strconv.Itoa(len(r.MultipartForm.File))
	}
	body, err := io.ReadAll(r.Body)
	read["Body"] = string(body) + errText(err)
	return read
}

// TestHandlerReadsWhatWasVerified: for each kind of body passed on, every
// way net/http offers to read the parameters gives the verified ones, and
// nothing is left to parse.
func TestHandlerReadsWhatWasVerified(t *testing.T) {
	t.Parallel()
	noMultipart := "error: http: multipart handled by ParseMultipartForm"
	cases := []struct {
		name    string
		request *http.Request
		want    map[string]string
	}{
		{"form", plivoSends("POST", public+"?phlo=1&Event=q", form, "Event=member_hold&To=%2B14155550100",
			url.Values{"Event": {"member_hold"}, "To": {"+14155550100"}}), map[string]string{
			"FormValue": "member_hold", "PostFormValue": "member_hold", "ParseForm": "", "ParseMultipartForm": "",
			"FormFile": "error: " + http.ErrMissingFile.Error(), "MultipartReader": noMultipart,
			"Form": "Event=member_hold&Event=q&To=%2B14155550100&phlo=1", "PostForm": "Event=member_hold&To=%2B14155550100",
			"MultipartForm": " files 0", "Body": "Event=member_hold&To=%2B14155550100",
		}},
		{"query", plivoSends("GET", public+"?Event=member_hold&a=1&a=2", "", "", nil), map[string]string{
			"FormValue": "member_hold", "PostFormValue": "", "ParseForm": "", "ParseMultipartForm": "",
			"FormFile": "error: " + http.ErrMissingFile.Error(), "MultipartReader": noMultipart,
			"Form": "Event=member_hold&a=1&a=2", "PostForm": "", "MultipartForm": " files 0", "Body": "",
		}},
		{"JSON", plivoSends("POST", public+"?x=1", "application/json; charset=utf-8", `{"Event":"member_hold"}`, nil), map[string]string{
			"FormValue": "", "PostFormValue": "", "ParseForm": "", "ParseMultipartForm": "",
			"FormFile": "error: " + http.ErrMissingFile.Error(), "MultipartReader": noMultipart,
			"Form": "x=1", "PostForm": "", "MultipartForm": " files 0", "Body": `{"Event":"member_hold"}`,
		}},
	}
	for _, c := range cases {
		reader := &formReader{}
		w := serve(callback.Verify(token, reader, callback.WithAllowedHosts("a.example.com")), c.request)
		require.Equal(t, http.StatusOK, w.Code, c.name)
		assert.Equal(t, c.want, reader.read, c.name)
		assert.Equal(t, int64(len(c.want["Body"])), c.request.ContentLength, c.name)
	}
}
