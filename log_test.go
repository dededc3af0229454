package phlo_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

// records decodes the JSON records in logs.
func records(t *testing.T, logs *logBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		out = append(out, rec)
	}
	return out
}

// jsonLogger logs at level to logs.
func jsonLogger(logs *logBuffer, level slog.Level) phlo.Option {
	return phlo.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})))
}

// TestLogRecordsNameTheActionNodeKindAndHost: every record says which
// call it belongs to, of which kind of node, on which runner, so that a
// hold and the unhold that undoes it are told apart.
func TestLogRecordsNameTheActionNodeKindAndHost(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"api_id":"a","error":"","phlo_id":"p"}`))
	}))
	defer srv.Close()
	var logs logBuffer
	c := plainClient(t, srv.URL, jsonLogger(&logs, slog.LevelDebug))
	ctx := context.Background()
	member := c.Phlo("p").MultiPartyCall("n").Member("+14155550100")
	_, err := member.Hold(ctx)
	require.NoError(t, err)
	_, err = member.Unhold(ctx)
	require.NoError(t, err)
	_, err = c.Phlo("p").ConferenceBridge("b").Member("+1").Mute(ctx)
	require.NoError(t, err)
	_, err = c.Phlo("p").MultiPartyCall("n").Call(ctx, phlo.CallParams{TriggerSource: "+1", To: "+2"})
	require.NoError(t, err)
	_, err = c.Phlo("p").Get(ctx)
	require.NoError(t, err)
	_, err = c.Phlo("p").Run(ctx, nil)
	require.NoError(t, err)
	_, err = c.Phlo("p").GetRun(ctx, "r")
	require.NoError(t, err)
	_, err = c.Phlo("p").ConferenceBridge("b").Get(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Do(ctx, phlo.Request{Method: "GET", Path: []string{"phlo", "p"}}, nil))

	want := [][2]string{
		{"hold", "multi_party_call"}, {"unhold", "multi_party_call"}, {"mute", "conference_bridge"},
		{"call", "multi_party_call"}, {"get", ""}, {"run", ""}, {"get_run", ""}, {"get", "conference_bridge"}, {"do", ""},
	}
	recs := records(t, &logs)
	require.Len(t, recs, len(want))
	host := strings.TrimPrefix(srv.URL, "http://")
	for i, rec := range recs {
		assert.Equal(t, "DEBUG", rec["level"], "a call that succeeds writes nothing above Debug")
		assert.Equal(t, want[i][0], rec["action"], "record %d", i)
		assert.Equal(t, want[i][1], rec["node_kind"], "record %d", i)
		assert.Equal(t, host, rec["host"], "record %d", i)
	}
}

// TestFailedCallWritesOneWarning: a hold that fails after three 503s
// leaves exactly one record in a service that logs at Info, with what an
// operator needs; a call that succeeds, bad input, and the caller's own
// cancellation leave none, while the client's own timeout does.
func TestFailedCallWritesOneWarning(t *testing.T) {
	t.Parallel()
	rec := &recorder{reply: func(int, *http.Request) (*http.Response, error) {
		return jsonResponse(503, `{"api_id":"busy-1","error":"try later"}`), nil
	}}
	var logs logBuffer
	c := mockClientFunc(t, rec, jsonLogger(&logs, slog.LevelInfo), phlo.WithRetryPolicy(fastRetries))
	_, err := c.Phlo("p").MultiPartyCall("n").Member("+14155550100").Hold(context.Background())
	require.ErrorIs(t, err, phlo.ErrServer)
	require.Len(t, rec.all(), 3)

	recs := records(t, &logs)
	require.Len(t, recs, 1, logs.String())
	r := recs[0]
	assert.Equal(t, "WARN", r["level"])
	assert.Equal(t, "phlo call failed", r["msg"])
	assert.Equal(t, "hold", r["action"])
	assert.Equal(t, "multi_party_call", r["node_kind"])
	assert.Equal(t, "phlorunner.plivo.com", r["host"])
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n/members/+14155550100", r["path"])
	assert.EqualValues(t, 503, r["status"])
	assert.Equal(t, "busy-1", r["api_id"])
	assert.EqualValues(t, 3, r["attempts"])
	assert.Contains(t, r, "duration")
	assert.Equal(t, err.Error(), r["error"])

	quiet := func(name string, call func(c *phlo.RestClient) error, reply func(int, *http.Request) (*http.Response, error)) {
		var logs logBuffer
		c := mockClientFunc(t, &recorder{reply: reply}, jsonLogger(&logs, slog.LevelInfo))
		call(c)
		assert.Empty(t, logs.String(), name)
	}
	ok := func(int, *http.Request) (*http.Response, error) { return jsonResponse(201, `{"api_id":"a"}`), nil }
	quiet("success", func(c *phlo.RestClient) error {
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
		return err
	}, ok)
	quiet("bad input", func(c *phlo.RestClient) error {
		_, err := c.Phlo("p").MultiPartyCall("n").Member("").Hold(context.Background())
		return err
	}, ok)
	ctx, cancel := context.WithCancel(context.Background())
	quiet("the caller's cancellation", func(c *phlo.RestClient) error {
		_, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(ctx)
		require.ErrorIs(t, err, context.Canceled)
		return err
	}, func(_ int, req *http.Request) (*http.Response, error) {
		cancel() // the caller gives up while the request is out
		return nil, req.Context().Err()
	})

	logs = logBuffer{}
	stall := &recorder{reply: func(_ int, req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
	c = mockClientFunc(t, stall, jsonLogger(&logs, slog.LevelInfo), phlo.WithTimeout(20*time.Millisecond))
	_, err = c.Phlo("p").Get(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	recs = records(t, &logs)
	require.Len(t, recs, 1, "the client's own timeout is a failure to report")
	assert.Equal(t, "get", recs[0]["action"])
	assert.EqualValues(t, 1, recs[0]["attempts"])
}

// TestErrorsNameTheHost: pointed at another runner than Plivo's, an error's
// text says where the request went, for a reply and a transport failure
// alike; APIError.Path stays a path.
func TestErrorsNameTheHost(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"api_id":"nf","error":"member not found."}`))
	}))
	defer srv.Close()
	c := plainClient(t, srv.URL)
	_, err := c.Phlo("p").MultiPartyCall("n").Member("+14155550100").Hold(context.Background())
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "phlo: POST "+srv.URL+"/v1/phlo/p/multi_party_call/n/members/+14155550100: 404 Not Found: member not found. (api_id nf)", err.Error())
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n/members/+14155550100", apiErr.Path)

	// Nothing listens on a port just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	c = plainClient(t, "http://"+addr+"/prefix")
	_, err = c.Phlo("p").Get(context.Background())
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "phlo: GET http://"+addr+"/prefix/v1/phlo/p: "), err.Error())

	// Plivo's own runner goes without saying.
	mc, _ := mockClient(t, 404, `{"error":"x"}`)
	_, err = mc.Phlo("p").Get(context.Background())
	assert.True(t, strings.HasPrefix(err.Error(), "phlo: GET /v1/phlo/p: "), err.Error())
}

// TestMaskedAddresses: with WithMaskedAddresses, a member's address and a
// call's to and trigger_source read "********0100" in errors, APIError's
// fields and log records, wherever the server repeats them and wherever a
// cut leaves the start of one; the wire is unchanged.
func TestMaskedAddresses(t *testing.T) {
	t.Parallel()
	const addr, to, from = "+14155550100", "sip:bob@phone.plivo.com", "+14155550111"
	pieces := []string{"4155550", "bob@phone", "phone.plivo"}
	// The second address starts 6 bytes before the 509 bytes the message
	// keeps before its "…".
	holdReply := `{"api_id":"` + addr + `","error":"no member ` + addr + " " + strings.Repeat("x", 480) + addr + `"}`
	transferReply := `{"api_id":"t-1","error":"cannot reach ` + to + ` from ` + from + `"}`
	var logs logBuffer
	rec := &recorder{reply: func(n int, _ *http.Request) (*http.Response, error) {
		if n == 1 {
			return jsonResponse(404, holdReply), nil
		}
		return jsonResponse(400, transferReply), nil
	}}
	c := mockClientFunc(t, rec, phlo.WithMaskedAddresses(), jsonLogger(&logs, slog.LevelDebug))

	_, err := c.Phlo("p").MultiPartyCall("n").Member(addr).Hold(context.Background())
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n/members/********0100", apiErr.Path)
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n/members/+14155550100", rec.last(t).Path, "the wire is unchanged")
	assert.Equal(t, "********0100", apiErr.APIID)
	assert.True(t, strings.HasPrefix(apiErr.Message, "no member ********0100 x"), apiErr.Message)
	assert.True(t, strings.HasSuffix(apiErr.Message, "x******…"), apiErr.Message)
	assert.Contains(t, err.Error(), "/members/********0100: 404 Not Found: no member ********0100 x")
	texts := []string{err.Error(), apiErr.Message, apiErr.APIID, string(apiErr.Body)}

	_, err = c.Phlo("p").MultiPartyCall("n").WarmTransfer(context.Background(), phlo.CallParams{TriggerSource: from, To: to})
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "cannot reach *******************.com from ********0111", apiErr.Message)
	assert.Contains(t, string(rec.last(t).Body), `"to":"sip:bob@phone.plivo.com"`, "the wire is unchanged")
	texts = append(texts, err.Error(), apiErr.Message, string(apiErr.Body), logs.String())

	for _, s := range texts {
		for _, p := range pieces {
			assert.NotContains(t, s, p)
		}
	}
	recs := records(t, &logs)
	require.Len(t, recs, 4)
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n/members/********0100", recs[1]["path"])

	// Without the option, nothing is masked.
	c = mockClientFunc(t, &recorder{reply: func(int, *http.Request) (*http.Response, error) {
		return jsonResponse(404, holdReply), nil
	}})
	_, err = c.Phlo("p").MultiPartyCall("n").Member(addr).Hold(context.Background())
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n/members/+14155550100", apiErr.Path)
	assert.Equal(t, addr, apiErr.APIID)
	assert.True(t, errors.Is(err, phlo.ErrNotFound))
}
