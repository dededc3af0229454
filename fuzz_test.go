package phlo_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"

	"github.com/phlogo/phlo"
)

// FuzzDecodeResponse: any status, body and Retry-After give a typed result
// or an error, never a panic; a failed status is always an *APIError; an
// error's text is one line within the bound, and no error field holds a
// control character.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(201, []byte(`{"api_id":"a","error":""}`))
	f.Add(200, []byte(`{"api_id":"a","phlo_id":"p","name":"n","created_on":"2020-08-01 09:05:11.846982+00:00"}`))
	f.Add(500, []byte(``))
	f.Add(404, []byte(`{}`))
	f.Add(502, []byte(`<html><title>502</title></html>`))
	f.Add(201, []byte(`{"api_id":`))
	f.Add(400, []byte("{\"api_id\":\"a\\u001b[2J\",\"error\":\"x\\nlevel=ERROR\\u0085\\u2028\"}"))
	f.Add(201, []byte(`{"error":5}`))
	f.Add(502, []byte("\x1b]0;t\x07\xff\xfe"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 100 + (status%900+900)%900
		}
		if status == 101 { // a protocol switch has no body to decode
			return
		}
		rec := &recorder{reply: func(int, *http.Request) (*http.Response, error) {
			resp := httpmock.NewBytesResponse(status, body)
			resp.Header.Set("Retry-After", string(body[:min(len(body), 40)]))
			return resp, nil
		}}
		c := mockClientFunc(t, rec)
		member := c.Phlo("p").MultiPartyCall("n").Member("+1")
		resp, err := member.Hold(context.Background())
		check(t, status, resp == nil, err)
		if err == nil {
			// ActionResponse has no room for the runner's error text: a
			// reply that carries one must not have been taken as success.
			var env struct {
				Error any `json:"error"`
			}
			if json.Unmarshal(body, &env) == nil && env.Error != nil && env.Error != "" {
				t.Fatalf("success with an error field %v", env.Error)
			}
		}
		info, err := c.Phlo("p").Get(context.Background())
		check(t, status, info == nil, err)
		run, err := c.Phlo("p").GetRun(context.Background(), "r")
		check(t, status, run == nil, err)
		var out any
		err = c.Do(context.Background(), phlo.Request{Method: "GET", Path: []string{"phlo"}}, &out)
		check(t, status, err != nil, err)
	})
}

func check(t *testing.T, status int, nilResult bool, err error) {
	t.Helper()
	ok := status >= 200 && status <= 299
	if err == nil {
		if !ok {
			t.Fatalf("status %d gave no error", status)
		}
		if nilResult {
			t.Fatal("no error and no result")
		}
		return
	}
	if !nilResult {
		t.Fatalf("an error (%v) and a result", err)
	}
	checkErrorText(t, err)
	var apiErr *phlo.APIError
	if errors.As(err, &apiErr) {
		checkOneLine(t, apiErr.Message)
		checkOneLine(t, apiErr.APIID)
		if len(apiErr.Message) > 512 || len(apiErr.APIID) > 128 {
			t.Fatalf("message of %d bytes, api_id of %d", len(apiErr.Message), len(apiErr.APIID))
		}
	}
	if !ok {
		if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
			t.Fatalf("status %d gave %v, not an *APIError", status, err)
		}
		return
	}
	if !errors.As(err, &apiErr) && !errors.Is(err, phlo.ErrInvalidResponse) {
		t.Fatalf("status %d gave an untyped error %v", status, err)
	}
}

// FuzzAddress: an address is either refused before any I/O or sent as
// exactly one path segment that decodes back to itself.
func FuzzAddress(f *testing.F) {
	for _, s := range []string{"+14155551234", "sip:alice@phone.plivo.com", "a/b", "..", ".", "", "%2F", "a?b#c", "sp ace", "\x00", "é/è", "../../admin"} {
		f.Add(s)
	}
	const prefix = "/v1/phlo/p/multi_party_call/n/members/"
	f.Fuzz(func(t *testing.T, address string) {
		c, rec := mockClient(t, http.StatusCreated, `{"api_id":"x","error":""}`)
		_, err := c.Phlo("p").MultiPartyCall("n").Member(address).Hold(context.Background())
		sent := rec.all()
		if err != nil {
			if !errors.Is(err, phlo.ErrInvalidArgument) {
				t.Fatalf("%q: unexpected error %v", address, err)
			}
			if len(sent) != 0 {
				t.Fatalf("%q was refused but sent", address)
			}
			return
		}
		if len(sent) != 1 {
			t.Fatalf("%q: %d requests", address, len(sent))
		}
		path := sent[0].Path
		seg, found := strings.CutPrefix(path, prefix)
		if !found || strings.Contains(seg, "/") || sent[0].Query != "" {
			t.Fatalf("%q became %q?%s: not one segment", address, path, sent[0].Query)
		}
		back, uerr := url.PathUnescape(seg)
		if uerr != nil || back != address {
			t.Fatalf("%q became segment %q, which decodes to %q (%v)", address, seg, back, uerr)
		}
	})
}
