package phlo_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

type runsQuery struct {
	Limit  int      `url:"limit,omitempty"`
	Offset int      `url:"offset"`
	Status []string `url:"status,omitempty"`
	Since  string   `url:"since,omitempty"`
}

func TestDoQueryEncoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		query any
		want  string
	}{
		{"nil", nil, ""},
		{"omitempty drops zero values", runsQuery{}, "offset=0"},
		{"repeated values", runsQuery{Limit: 20, Offset: 40, Status: []string{"live", "done"}}, "limit=20&offset=40&status=live&status=done"},
		{"escaping", &runsQuery{Since: "2020-08-01 09:05:11+00:00"}, "offset=0&since=2020-08-01+09%3A05%3A11%2B00%3A00"},
		{"url.Values", url.Values{"phlo_id": {"p 1"}}, "phlo_id=p+1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rec := mockClient(t, http.StatusOK, `{"api_id":"q"}`)
			var out map[string]any
			err := c.Do(context.Background(), phlo.Request{Method: "GET", Path: []string{"phlo", "p", "runs"}, Query: tc.query}, &out)
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"api_id": "q"}, out)
			w := rec.last(t)
			assert.Equal(t, "/v1/phlo/p/runs", w.Path)
			assert.Equal(t, tc.want, w.Query)
		})
	}
}

func TestDoRejectsBadRequests(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		r     phlo.Request
		param string
	}{
		{"no method", phlo.Request{Path: []string{"phlo"}}, "Request.Method"},
		{"method with space", phlo.Request{Method: "GE T", Path: []string{"phlo"}}, "Request.Method"},
		{"no path", phlo.Request{Method: "GET"}, "Request.Path"},
		{"empty segment", phlo.Request{Method: "GET", Path: []string{"phlo", ""}}, "Request.Path[1]"},
		{"dot segment", phlo.Request{Method: "GET", Path: []string{"."}}, "Request.Path[0]"},
		{"dot-dot segment", phlo.Request{Method: "GET", Path: []string{"phlo", "p", ".."}}, "Request.Path[2]"},
		{"control segment", phlo.Request{Method: "GET", Path: []string{"phlo", "p\n"}}, "Request.Path[1]"},
		{"query not a struct", phlo.Request{Method: "GET", Path: []string{"phlo"}, Query: 42}, "Request.Query"},
		{"body not JSON", phlo.Request{Method: "POST", Path: []string{"phlo"}, Body: make(chan int)}, "Request.Body"},
		{"raw body not JSON", phlo.Request{Method: "POST", Path: []string{"phlo"}, Body: json.RawMessage(`{`)}, "Request.Body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rec := mockClient(t, http.StatusOK, `{}`)
			err := c.Do(context.Background(), tc.r, nil)
			require.ErrorIs(t, err, phlo.ErrInvalidArgument)
			var argErr *phlo.ArgumentError
			require.ErrorAs(t, err, &argErr)
			assert.Equal(t, tc.param, argErr.Name)
			assert.Empty(t, rec.all())
		})
	}
}

func TestDoEscapesEachSegment(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusOK, `{}`)
	err := c.Do(context.Background(), phlo.Request{Method: "GET", Path: []string{"phlo", "a/b", "runs", "r?x#y", "sip:u@h+1", "sp ace", "100%"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, "/v1/phlo/a%2Fb/runs/r%3Fx%23y/sip:u@h+1/sp%20ace/100%25", rec.last(t).Path)
	assert.Empty(t, rec.last(t).Query)
}

func TestDoNilOutStillChecksTheErrorField(t *testing.T) {
	t.Parallel()
	c, _ := mockClient(t, http.StatusCreated, `{"api_id":"e","error":"nope"}`)
	err := c.Do(context.Background(), phlo.Request{Method: "POST", Path: []string{"phlo", "p"}, Body: map[string]string{"a": "b"}}, nil)
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "nope", apiErr.Message)

}

// TestDoEmptyReplyIsInvalid: an empty 2xx reply is ErrInvalidResponse for
// Do with or without out, as for every wrapped action: the runner always
// sends a JSON object, so an empty body is a proxy's or a fault's.
func TestDoEmptyReplyIsInvalid(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusOK, http.StatusCreated, http.StatusNoContent} {
		for _, body := range []string{``, " \r\n\t"} {
			for name, out := range map[string]any{"nil out": nil, "map out": new(map[string]any), "ActionResponse out": new(phlo.ActionResponse)} {
				c, rec := mockClient(t, status, body)
				err := c.Do(context.Background(), phlo.Request{Method: "POST", Path: []string{"phlo", "p"}}, out)
				require.ErrorIs(t, err, phlo.ErrInvalidResponse, "%d %q %s", status, body, name)
				assert.Contains(t, err.Error(), "empty body")
				assert.Len(t, rec.all(), 1, "a POST is sent once")
			}
		}
	}
}

// TestWrappedActionsEqualDo proves every wrapped action is a plain use of the
// one request path: the same request through Do is the same on the wire,
// byte for byte.
func TestWrappedActionsEqualDo(t *testing.T) {
	t.Parallel()
	const phloID, nodeID, addr = "ph 1", "nd/2", "sip:bob@x.com"
	params := phlo.CallParams{TriggerSource: "+14155550100", To: "+14155550111"}
	member := func(action string) phlo.Request {
		return phlo.Request{
			Method:     "POST",
			Path:       []string{"phlo", phloID, "multi_party_call", nodeID, "members", addr},
			Body:       map[string]string{"action": action},
			Idempotent: true,
		}
	}
	call := func(action string) phlo.Request {
		return phlo.Request{
			Method: "POST",
			Path:   []string{"phlo", phloID, "multi_party_call", nodeID},
			Body: struct {
				Action        string `json:"action"`
				TriggerSource string `json:"trigger_source"`
				To            string `json:"to"`
				Role          string `json:"role"`
			}{action, params.TriggerSource, params.To, "agent"},
		}
	}
	cases := []struct {
		name    string
		wrapped func(c *phlo.RestClient) error
		raw     phlo.Request
	}{
		{"Phlo.Get", func(c *phlo.RestClient) error { _, err := c.Phlo(phloID).Get(ctx()); return err },
			phlo.Request{Method: "GET", Path: []string{"phlo", phloID}}},
		{"Phlo.Run", func(c *phlo.RestClient) error {
			_, err := c.Phlo(phloID).Run(ctx(), map[string]any{"to": "+1"})
			return err
		}, phlo.Request{Method: "POST", Path: []string{"account", testAuthID, "phlo", phloID}, Body: map[string]any{"to": "+1"}}},
		{"Phlo.GetRun", func(c *phlo.RestClient) error { _, err := c.Phlo(phloID).GetRun(ctx(), "r1"); return err },
			phlo.Request{Method: "GET", Path: []string{"phlo", phloID, "runs", "r1"}}},
		{"MultiPartyCall.Get", func(c *phlo.RestClient) error { _, err := c.Phlo(phloID).MultiPartyCall(nodeID).Get(ctx()); return err },
			phlo.Request{Method: "GET", Path: []string{"phlo", phloID, "multi_party_call", nodeID}}},
	}
	for _, a := range callActions {
		cases = append(cases, struct {
			name    string
			wrapped func(c *phlo.RestClient) error
			raw     phlo.Request
		}{a.name, func(c *phlo.RestClient) error {
			_, err := a.call(c.Phlo(phloID).MultiPartyCall(nodeID), ctx(), params)
			return err
		}, call(a.action)})
	}
	for _, a := range memberActions {
		cases = append(cases, struct {
			name    string
			wrapped func(c *phlo.RestClient) error
			raw     phlo.Request
		}{a.name, func(c *phlo.RestClient) error {
			_, err := a.call(c.Phlo(phloID).MultiPartyCall(nodeID).Member(addr), ctx())
			return err
		}, member(a.action)})
	}
	const reply = `{"api_id":"x","error":""}`
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rec := mockClient(t, http.StatusOK, reply)
			require.NoError(t, tc.wrapped(c))
			require.NoError(t, c.Do(ctx(), tc.raw, nil))
			all := rec.all()
			require.Len(t, all, 2)
			assert.Equal(t, all[0], all[1])
		})
	}
}

func ctx() context.Context { return context.Background() }
