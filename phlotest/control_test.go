package phlotest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// ctl sends control requests by hand, as a test in any language would.
type ctl struct {
	t   *testing.T
	srv *phlotest.Server
}

// reply is what a control request got back.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(r.body, &v), "%s", r.body)
	return v
}

func (c ctl) send(method, path, body string, auth bool) reply {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	require.NoError(c.t, err)
	if auth {
		req.SetBasicAuth(c.srv.AuthID, c.srv.AuthToken)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	c.t.Cleanup(http.DefaultClient.CloseIdleConnections)
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return reply{resp.StatusCode, resp.Header, data}
}

func (c ctl) do(method, path, body string) reply {
	c.t.Helper()
	return c.send(method, path, body, true)
}

func startCtl(t *testing.T, opts ...phlotest.Option) (*phlotest.Server, ctl) {
	srv := phlotest.Start(t, opts...)
	return srv, ctl{t, srv}
}

// TestControlAuth: everything but the health check needs the fake's
// credentials, and says so in a way a browser understands.
func TestControlAuth(t *testing.T) {
	t.Parallel()
	srv, c := startCtl(t)
	r := c.send("GET", "/__phlo/health", "", false)
	assert.Equal(t, 200, r.status)
	assert.JSONEq(t, `{"status":"ok"}`, string(r.body))
	for _, path := range []string{"/__phlo/state", "/__phlo/", "/__phlo", "/__phlo/requests", "/__phlo/nope", "/__phlo/openapi.json"} {
		r = c.send("GET", path, "", false)
		assert.Equal(t, 401, r.status, path)
		assert.Equal(t, `Basic realm="phlo"`, r.header.Get("WWW-Authenticate"), path)
		assert.Contains(t, r.json(t).(map[string]any)["error"], "credentials")
	}
	req, _ := http.NewRequest("POST", srv.URL+"/__phlo/reset", nil)
	req.SetBasicAuth(srv.AuthID, "wrong")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	r = c.send("PUT", "/__phlo/phlo/p", "", false)
	assert.Equal(t, 401, r.status)
	assert.JSONEq(t, `{"phlos":[]}`, string(c.do("GET", "/__phlo/state", "").body), "a refused request changes nothing")
}

// TestControlModel: the model is edited at the runner's own paths under
// /__phlo, and what the runner does shows there.
func TestControlModel(t *testing.T) {
	t.Parallel()
	srv, c := startCtl(t)
	ctx := context.Background()
	mpc := "/__phlo/phlo/p1/multi_party_call/n1"

	r := c.do("PUT", mpc+"/members/"+customer, `{"role":"customer"}`)
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.JSONEq(t, `{"address":"+14155550100","role":"customer","on_hold":false,"transferring_to":""}`, string(r.body))
	r = c.do("PUT", mpc+"/members/"+agent, "")
	assert.JSONEq(t, `{"address":"sip:alice@phone.plivo.com","role":"agent","on_hold":false,"transferring_to":""}`, string(r.body))

	_, err := srv.Client().Phlo("p1").MultiPartyCall("n1").Member(customer).Hold(ctx)
	require.NoError(t, err)
	r = c.do("GET", mpc+"/members/"+customer, "")
	assert.Equal(t, 200, r.status)
	assert.Equal(t, true, r.json(t).(map[string]any)["on_hold"])
	r = c.do("PUT", mpc+"/members/"+customer, `{"role":"supervisor"}`)
	assert.JSONEq(t, `{"address":"+14155550100","role":"supervisor","on_hold":true,"transferring_to":""}`, string(r.body), "PUT updates the role only")

	_, err = srv.Client().Phlo("p1").MultiPartyCall("n1").WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: "+14155550111"})
	require.NoError(t, err)
	r = c.do("DELETE", mpc+"/members/%2B14155550111", "")
	assert.Equal(t, 204, r.status)
	assert.Empty(t, r.body)
	a, _ := srv.Member("p1", "n1", agent)
	assert.Empty(t, a.TransferringTo, "gone as if they hung up")
	assert.Equal(t, 404, c.do("GET", mpc+"/members/+14155550111", "").status)
	assert.Equal(t, 404, c.do("DELETE", mpc+"/members/+14155550111", "").status)

	r = c.do("PUT", "/__phlo/phlo/p1", `{"name":"Support"}`)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "Support", r.json(t).(map[string]any)["name"])
	r = c.do("PUT", mpc, `{"name":"Queue"}`)
	assert.JSONEq(t, `{"node_id":"n1","name":"Queue","members":[
		{"address":"+14155550100","role":"supervisor","on_hold":true,"transferring_to":""},
		{"address":"sip:alice@phone.plivo.com","role":"agent","on_hold":false,"transferring_to":""}]}`, string(r.body))
	info, err := srv.Client().Phlo("p1").MultiPartyCall("n1").Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Queue", info.Name)
	r = c.do("PUT", mpc, "")
	assert.Equal(t, "Queue", r.json(t).(map[string]any)["name"], "no name keeps the name")

	bridge := "/__phlo/phlo/p1/conference_bridge/b1"
	r = c.do("PUT", bridge+"/members/sip:a%2Fb@x", `{}`)
	assert.JSONEq(t, `{"address":"sip:a/b@x","muted":false}`, string(r.body), "the address is one escaped segment")
	_, err = srv.Client().Phlo("p1").ConferenceBridge("b1").Member("sip:a/b@x").Mute(ctx)
	require.NoError(t, err)
	assert.Equal(t, true, c.do("GET", bridge+"/members/sip:a%2Fb@x", "").json(t).(map[string]any)["muted"])
	assert.JSONEq(t, `{"node_id":"b1","name":"Conference Bridge b1","members":[{"address":"sip:a/b@x","muted":true}]}`, string(c.do("GET", bridge, "").body))

	_, err = srv.Client().Phlo("p1").Run(ctx, map[string]any{"to": "+1"})
	require.NoError(t, err)
	r = c.do("GET", "/__phlo/phlo/p1", "")
	runs := r.json(t).(map[string]any)["runs"].([]any)
	require.Len(t, runs, 1)
	assert.Equal(t, map[string]any{"to": "+1"}, runs[0].(map[string]any)["payload"])

	assert.Equal(t, 204, c.do("DELETE", bridge, "").status)
	assert.Equal(t, 404, c.do("GET", bridge, "").status)
	assert.Equal(t, 204, c.do("DELETE", "/__phlo/phlo/p1", "").status)
	assert.Equal(t, 404, c.do("GET", "/__phlo/phlo/p1", "").status)
	assert.Equal(t, 404, c.do("GET", mpc, "").status)
	assert.JSONEq(t, `{"phlos":[]}`, string(c.do("GET", "/__phlo/state", "").body))
	assert.Empty(t, srv.Runs("p1"))
}

// TestControlRequestsAndFaults: the journal lists runner requests only,
// with their status, filtered by action; faults queue, show, meet
// requests and clear.
func TestControlRequestsAndFaults(t *testing.T) {
	t.Parallel()
	srv, c := startCtl(t)
	ctx := context.Background()
	srv.AddMember(pID, nID, customer, phlo.RoleCustomer)
	noRetry, err := srv.NewClient(phlo.WithRetryPolicy(phlo.RetryPolicy{}))
	require.NoError(t, err)
	member := noRetry.Phlo(pID).MultiPartyCall(nID).Member(customer)

	r := c.do("POST", "/__phlo/faults", `{"status":503,"action":"unhold","body":"busy","header":{"X-Why":"test"},"retry_after":1}`)
	require.Equal(t, 201, r.status, "%s", r.body)
	want := `{"status":503,"times":1,"body":"busy","header":{"X-Why":"test"},"retry_after":1,"delay_ms":0,
		"drop":false,"truncate":false,"stall":false,"apply":false,"method":"","action":"unhold","path_prefix":""}`
	assert.JSONEq(t, want, string(r.body))
	assert.JSONEq(t, "["+want+"]", string(c.do("GET", "/__phlo/faults", "").body))

	_, err = member.Hold(ctx)
	require.NoError(t, err, "the fault waits for an unhold")
	_, err = member.Unhold(ctx)
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, "busy", apiErr.Message)
	assert.JSONEq(t, `[]`, string(c.do("GET", "/__phlo/faults", "").body))

	c.send("POST", "/v1/phlo/"+pID+"/multi_party_call/"+nID+"/members/"+customer, `{"action":"hold"}`, false) // refused: not kept
	r = c.do("GET", "/__phlo/requests", "")
	path := "/v1/phlo/phlo-1/multi_party_call/node-1/members/+14155550100"
	assert.JSONEq(t, `[{"method":"POST","path":"`+path+`","query":"","action":"hold","body":"{\"action\":\"hold\"}","status":201},
		{"method":"POST","path":"`+path+`","query":"","action":"unhold","body":"{\"action\":\"unhold\"}","status":503}]`, string(r.body))
	r = c.do("GET", "/__phlo/requests?action=unhold", "")
	assert.Len(t, r.json(t), 1)
	assert.Equal(t, 204, c.do("DELETE", "/__phlo/requests", "").status)
	assert.JSONEq(t, `[]`, string(c.do("GET", "/__phlo/requests", "").body))
	assert.Empty(t, srv.Requests())

	r = c.do("POST", "/__phlo/faults", `{"drop":true,"apply":true,"times":2,"path_prefix":"/v1/phlo/`+pID+`/","method":"POST","delay_ms":1}`)
	assert.Equal(t, 201, r.status)
	assert.Equal(t, 2, srv.PendingFaults())
	_, err = member.Hold(ctx)
	require.Error(t, err)
	m, _ := srv.Member(pID, nID, customer)
	assert.True(t, m.OnHold, "the fault applied the hold")
	assert.Equal(t, 0, srv.Requests()[0].Status, "dropped")
	assert.Equal(t, 204, c.do("DELETE", "/__phlo/faults", "").status)
	assert.Equal(t, 0, srv.PendingFaults())
}

// TestControlReset: back to the start state, journal and faults emptied.
func TestControlReset(t *testing.T) {
	t.Parallel()
	st := phlotest.State{Phlos: []phlotest.PhloState{{PhloID: "p", MultiPartyCalls: []phlotest.CallState{{NodeID: "n", Members: []phlotest.MemberState{{Address: "+1", Role: phlo.RoleCustomer}}}}}}}
	srv, c := startCtl(t, phlotest.WithState(st))
	start := c.do("GET", "/__phlo/state", "").body
	_, err := srv.Client().Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
	require.NoError(t, err)
	c.do("PUT", "/__phlo/phlo/q", "")
	c.do("POST", "/__phlo/faults", `{"status":500}`)
	r := c.do("POST", "/__phlo/reset", "")
	assert.Equal(t, 204, r.status)
	assert.JSONEq(t, string(start), string(c.do("GET", "/__phlo/state", "").body))
	assert.Empty(t, srv.Requests())
	assert.Equal(t, 0, srv.PendingFaults())
}

// TestControlBadInput: each bad request gets a clear error naming what is
// wrong, and changes nothing.
func TestControlBadInput(t *testing.T) {
	t.Parallel()
	srv, c := startCtl(t)
	srv.AddMember("p", "n", "+1", "")
	member := "/__phlo/phlo/p/multi_party_call/n/members/+2"
	cases := []struct {
		method, path, body string
		status             int
		err                string
	}{
		{"PUT", member, `{"role":"boss"}`, 400, `role: unknown role "boss"`},
		{"PUT", member, `{"role":1}`, 400, `role: must be a string, not a JSON number`},
		{"PUT", member, `{"rol":"agent"}`, 400, `rol: unknown field`},
		{"PUT", member, `[]`, 400, `body: must be a JSON object`},
		{"PUT", member, `{"role":`, 400, `body: invalid JSON`},
		{"PUT", member, `{} {}`, 400, `body: more than one JSON value`},
		{"PUT", "/__phlo/phlo/p/conference_bridge/b/members/+2", `{"muted":true}`, 400, `muted: unknown field`},
		{"PUT", "/__phlo/phlo/p/multi_party_call/n/members/..", ``, 400, `address: ".." is not an address`},
		{"PUT", "/__phlo/phlo/p", `{"name":5}`, 400, `name: must be a string`},
		{"POST", "/__phlo/faults", `{"times":-1}`, 400, `times: must not be negative`},
		{"POST", "/__phlo/faults", `{"status":42}`, 400, `status: 42 is not between 100 and 599`},
		{"POST", "/__phlo/faults", `{"status":600}`, 400, `status: 600 is not between 100 and 599`},
		{"POST", "/__phlo/faults", `{"delay_ms":-5}`, 400, `delay_ms: must not be negative`},
		{"POST", "/__phlo/faults", `{"retry_after":-1}`, 400, `retry_after: must not be negative`},
		{"POST", "/__phlo/faults", `{"header":{"Bad Name":"x"}}`, 400, `header: "Bad Name" is not a header name`},
		{"POST", "/__phlo/faults", `{"header":{"X":"a\r\nb"}}`, 400, `header.X: a header value cannot hold CR, LF or NUL`},
		{"POST", "/__phlo/faults", `{"match":true}`, 400, `match: unknown field`},
		{"POST", "/__phlo/faults", `{}`, 400, `status: a fault must set status, drop, truncate, stall or delay_ms`},
		{"POST", "/__phlo/faults", `null`, 400, `status: a fault must set status, drop, truncate, stall or delay_ms`},
		{"POST", "/__phlo/faults", `{"times":2,"action":"hold","apply":true}`, 400, `status: a fault must set status, drop, truncate, stall or delay_ms`},
		{"GET", "/__phlo/nope", ``, 404, `no such control path: /__phlo/nope`},
		{"GET", "/__phlo/phlo/p/multi_party_call/n/members/+9", ``, 404, `no such member`},
		{"GET", "/__phlo/phlo/p/conference_bridge/n", ``, 404, `no such node`},
		{"PATCH", member, `{}`, 405, `method not allowed.`},
		{"POST", "/__phlo/state", ``, 405, `method not allowed.`},
		{"PUT", member, `{"role":"` + strings.Repeat("a", 64<<10) + `"}`, 413, `a control request body is at most MaxControlBody (65536 bytes)`},
		{"PUT", "/__phlo/phlo/p", `{"name":"` + strings.Repeat("a", 257) + `"}`, 409, `MaxNameBytes (256) reached: the name is too long.`},
		{"PUT", "/__phlo/phlo/" + strings.Repeat("p", 257), ``, 409, `MaxIDBytes (256) reached: the PHLO ID is too long.`},
		{"PUT", "/__phlo/phlo/p/conference_bridge/" + strings.Repeat("n", 257), ``, 409, `MaxIDBytes (256) reached: the node ID is too long.`},
		{"PUT", "/__phlo/phlo/p/multi_party_call/n/members/" + strings.Repeat("1", 257), ``, 409, `MaxAddressBytes (256) reached: the address is too long.`},
	}
	before := c.do("GET", "/__phlo/state", "").body
	for _, tc := range cases {
		r := c.do(tc.method, tc.path, tc.body)
		assert.Equal(t, tc.status, r.status, "%s %.60s %.60s: %s", tc.method, tc.path, tc.body, r.body)
		assert.Equal(t, "application/json", r.header.Get("Content-Type"))
		e, _ := r.json(t).(map[string]any)["error"].(string)
		assert.True(t, strings.HasPrefix(e, tc.err), "%s %.60s: got %q, want %q", tc.method, tc.path, e, tc.err)
	}
	assert.JSONEq(t, string(before), string(c.do("GET", "/__phlo/state", "").body))
	assert.Equal(t, 0, srv.PendingFaults())
	assert.Equal(t, "PUT, GET, DELETE", c.do("PATCH", member, "").header.Get("Allow"))
	assert.Equal(t, "GET", c.do("POST", "/__phlo/state", "").header.Get("Allow"))
}

// TestControlCaps: a control request past a cap is refused with 409
// naming it.
func TestControlCaps(t *testing.T) {
	t.Parallel()
	var st phlotest.State
	for i := range phlotest.MaxPhlos {
		st.Phlos = append(st.Phlos, phlotest.PhloState{PhloID: fmt.Sprint("p", i)})
	}
	for i := range phlotest.MaxNodesPerPhlo {
		st.Phlos[0].MultiPartyCalls = append(st.Phlos[0].MultiPartyCalls, phlotest.CallState{NodeID: fmt.Sprint("n", i)})
	}
	for i := range phlotest.MaxMembersPerNode {
		st.Phlos[0].MultiPartyCalls[0].Members = append(st.Phlos[0].MultiPartyCalls[0].Members, phlotest.MemberState{Address: fmt.Sprint("+", i)})
	}
	srv, c := startCtl(t, phlotest.WithState(st))
	for _, tc := range []struct{ path, cap string }{
		{"/__phlo/phlo/new", "MaxPhlos (1000)"},
		{"/__phlo/phlo/new/multi_party_call/n", "MaxPhlos (1000)"},
		{"/__phlo/phlo/p0/conference_bridge/new", "MaxNodesPerPhlo (100)"},
		{"/__phlo/phlo/p0/multi_party_call/new/members/+1", "MaxNodesPerPhlo (100)"},
		{"/__phlo/phlo/p0/multi_party_call/n0/members/+new", "MaxMembersPerNode (1000)"},
	} {
		r := c.do("PUT", tc.path, "")
		assert.Equal(t, 409, r.status, tc.path)
		assert.Contains(t, r.json(t).(map[string]any)["error"], tc.cap, tc.path)
	}
	assert.Equal(t, 200, c.do("PUT", "/__phlo/phlo/p0/multi_party_call/n0/members/+5", `{"role":"customer"}`).status, "a member already there is updated")
	assert.Equal(t, 200, c.do("PUT", "/__phlo/phlo/p0", `{"name":"x"}`).status, "a PHLO already there is renamed")
	for range phlotest.MaxFaults {
		require.Equal(t, 201, c.do("POST", "/__phlo/faults", `{"status":500}`).status)
	}
	r := c.do("POST", "/__phlo/faults", `{"status":500}`)
	assert.Equal(t, 409, r.status)
	assert.Contains(t, r.json(t).(map[string]any)["error"], "MaxFaults (100)")
	assert.Equal(t, phlotest.MaxFaults, srv.PendingFaults())
}

// TestDashboard: the page is served to those with the credentials, and
// loads nothing from anywhere else.
func TestDashboard(t *testing.T) {
	t.Parallel()
	_, c := startCtl(t)
	for _, path := range []string{"/__phlo/", "/__phlo"} {
		r := c.do("GET", path, "")
		assert.Equal(t, 200, r.status)
		assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
		page := string(r.body)
		assert.Contains(t, page, `data-control="add-member"`)
		assert.Contains(t, page, `"/__phlo/state"`)
		for _, ref := range regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*["']?([^"'\s>]+)`).FindAllStringSubmatch(page, -1) {
			assert.NotRegexp(t, `^(?i)(https?:)?//`, ref[1], "the page loads nothing from another origin")
		}
		assert.NotRegexp(t, `(?i)@import|url\(`, page)
	}
}
