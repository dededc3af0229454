package phlotest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/callback"
	"github.com/phlogo/phlo/phlotest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	pID, nID = "phlo-1", "node-1"
	agent    = "sip:alice@phone.plivo.com"
	customer = "+14155550100"
)

// raw sends a request by hand, as any program in any language would.
type raw struct {
	t   *testing.T
	srv *phlotest.Server
}

func (r raw) do(method, path, body string, auth bool) (int, map[string]any) {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	require.NoError(r.t, err)
	if auth {
		req.SetBasicAuth(r.srv.AuthID, r.srv.AuthToken)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	r.t.Cleanup(http.DefaultClient.CloseIdleConnections)
	assert.Equal(r.t, "application/json", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(r.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func setup(t *testing.T) (*phlotest.Server, raw) {
	srv := phlotest.Start(t)
	srv.AddPhlo(pID, "Support")
	srv.AddMember(pID, nID, agent, phlo.RoleAgent)
	srv.AddMember(pID, nID, customer, phlo.RoleCustomer)
	return srv, raw{t, srv}
}

func TestServerChecksLikeTheRunner(t *testing.T) {
	t.Parallel()
	member := "/v1/phlo/" + pID + "/multi_party_call/" + nID + "/members/" + customer
	call := "/v1/phlo/" + pID + "/multi_party_call/" + nID
	cases := []struct {
		name, method, path, body string
		auth                     bool
		status                   int
		errText                  string
	}{
		{"no auth", "POST", member, `{"action":"hold"}`, false, 401, "authentication failed."},
		{"wrong method on member", "GET", member, ``, true, 405, "method not allowed."},
		{"wrong method on phlo", "POST", "/v1/phlo/" + pID, `{}`, true, 405, "method not allowed."},
		{"wrong method on node", "DELETE", call, ``, true, 405, "method not allowed."},
		{"not JSON", "POST", member, `hold`, true, 400, "invalid JSON body."},
		{"JSON array", "POST", member, `[]`, true, 400, "invalid JSON body."},
		{"no action", "POST", member, `{}`, true, 400, "action is a mandatory param."},
		{"unknown member action", "POST", member, `{"action":"mute"}`, true, 400, "Invalid value provided for action."},
		{"call action on member", "POST", member, `{"action":"call"}`, true, 400, "Invalid value provided for action."},
		{"action not a string", "POST", member, `{"action":1}`, true, 400, "Invalid value provided for action."},
		{"unknown call action", "POST", call, `{"action":"hold","trigger_source":"` + agent + `","to":"+1"}`, true, 400, "Invalid value provided for action."},
		{"no to", "POST", call, `{"action":"call","trigger_source":"` + agent + `"}`, true, 400, "to is a mandatory param."},
		{"no trigger_source", "POST", call, `{"action":"call","to":"+1"}`, true, 400, "trigger_source is a mandatory param."},
		{"bad role", "POST", call, `{"action":"call","trigger_source":"` + agent + `","to":"+1","role":"boss"}`, true, 400, "Invalid value provided for role."},
		{"trigger not in call", "POST", call, `{"action":"call","trigger_source":"+19","to":"+1"}`, true, 400, "trigger_source is not a member of the call."},
		{"to already in call", "POST", call, `{"action":"call","trigger_source":"` + agent + `","to":"` + customer + `"}`, true, 400, "to is already a member of the call."},
		{"unknown PHLO", "GET", "/v1/phlo/nope", ``, true, 404, "PHLO not found."},
		{"unknown node", "GET", "/v1/phlo/" + pID + "/multi_party_call/nope", ``, true, 404, "node not found."},
		{"unknown member", "POST", call + "/members/+19", `{"action":"hold"}`, true, 404, "member not found."},
		{"member of unknown PHLO", "POST", "/v1/phlo/x/multi_party_call/" + nID + "/members/" + customer, `{"action":"hold"}`, true, 404, "PHLO not found."},
		{"unknown path", "GET", "/v2/phlo/" + pID, ``, true, 404, "not found."},
		{"run on unknown PHLO", "POST", "/v1/account/AUTH/phlo/nope", `{}`, true, 404, ""},
		{"unknown run", "GET", "/v1/phlo/" + pID + "/runs/nope", ``, true, 404, "run not found."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, r := setup(t)
			path := strings.Replace(tc.path, "AUTH", srv.AuthID, 1)
			status, body := r.do(tc.method, path, tc.body, tc.auth)
			assert.Equal(t, tc.status, status)
			assert.NotEmpty(t, body["api_id"])
			if tc.errText != "" {
				assert.Equal(t, tc.errText, body["error"])
			} else {
				assert.NotEmpty(t, body["error"])
			}
			m, ok := srv.Member(pID, nID, customer)
			require.True(t, ok)
			assert.False(t, m.OnHold, "a refused request changes nothing")
			assert.Len(t, srv.Members(pID, nID), 2)
		})
	}
}

func TestServerAcceptsEveryOfficialSDKsForm(t *testing.T) {
	t.Parallel()
	base := "/v1/phlo/" + pID + "/multi_party_call/" + nID
	srv, r := setup(t)

	status, body := r.do("POST", base+"/members/"+customer+"/", `{"action":"hold"}`, true) // trailing slash
	assert.Equal(t, 201, status)
	assert.Equal(t, "", body["error"])
	m, _ := srv.Member(pID, nID, customer)
	assert.True(t, m.OnHold)

	status, _ = r.do("POST", base+"/members/"+customer+"?action=unhold", `{}`, true) // .NET
	assert.Equal(t, 201, status)
	m, _ = srv.Member(pID, nID, customer)
	assert.False(t, m.OnHold)

	status, body = r.do("GET", base+"/?phlo_id="+pID, ``, true) // Node
	assert.Equal(t, 200, status)
	assert.Equal(t, "multi_party_call", body["node_type"])
	assert.Equal(t, nID, body["node_id"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$`, body["created_on"])

	status, body = r.do("POST", "/v1/account/"+srv.AuthID+"/phlo/"+pID+"/", ``, true) // Go, no body
	assert.Equal(t, 201, status)
	assert.Equal(t, body["api_id"], body["phlo_run_id"])

	status, body = r.do("GET", "/v1/phlo/"+pID+"/", ``, true)
	assert.Equal(t, 200, status)
	assert.Equal(t, "Support", body["name"])
}

func TestEscapedAddressIsOneSegment(t *testing.T) {
	t.Parallel()
	srv := phlotest.Start(t)
	addr := "sip:a/b?c#d e@x"
	srv.AddMember(pID, nID, addr, phlo.RoleAgent)
	_, err := srv.Client().Phlo(pID).MultiPartyCall(nID).Member(addr).Hold(context.Background())
	require.NoError(t, err)
	m, ok := srv.Member(pID, nID, addr)
	require.True(t, ok)
	assert.True(t, m.OnHold)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/phlo/phlo-1/multi_party_call/node-1/members/sip:a%2Fb%3Fc%23d%20e@x", reqs[0].Path)
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, `{"action":"hold"}`, string(reqs[0].Body))
}

func TestCallModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const bob, carol = "sip:bob@phone.plivo.com", "+14155550122"

	t.Run("call adds a member with its role", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		mpc := srv.Client().Phlo(pID).MultiPartyCall(nID)
		_, err := mpc.Call(ctx, phlo.CallParams{TriggerSource: agent, To: bob, Role: phlo.RoleSupervisor})
		require.NoError(t, err)
		m, ok := srv.Member(pID, nID, bob)
		require.True(t, ok)
		assert.Equal(t, phlotest.MemberState{Address: bob, Role: phlo.RoleSupervisor}, m)
		_, err = mpc.Call(ctx, phlo.CallParams{TriggerSource: agent, To: carol})
		require.NoError(t, err)
		m, _ = srv.Member(pID, nID, carol)
		assert.Equal(t, phlo.RoleAgent, m.Role, "no role is agent")
	})
	t.Run("hold and unhold are idempotent", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		m := srv.Client().Phlo(pID).MultiPartyCall(nID).Member(customer)
		for _, step := range []struct {
			act  func(context.Context) (*phlo.ActionResponse, error)
			held bool
		}{{m.Hold, true}, {m.Hold, true}, {m.Unhold, false}, {m.Unhold, false}} {
			_, err := step.act(ctx)
			require.NoError(t, err)
			st, _ := srv.Member(pID, nID, customer)
			assert.Equal(t, step.held, st.OnHold)
		}
	})
	t.Run("hangup removes, then the member is gone", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		m := srv.Client().Phlo(pID).MultiPartyCall(nID).Member(customer)
		_, err := m.Hangup(ctx)
		require.NoError(t, err)
		_, ok := srv.Member(pID, nID, customer)
		assert.False(t, ok)
		_, err = m.Hold(ctx)
		require.ErrorIs(t, err, phlo.ErrNotFound)
		assert.Contains(t, err.Error(), "member not found.")
	})
	t.Run("warm transfer then resume", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		mpc := srv.Client().Phlo(pID).MultiPartyCall(nID)
		_, err := mpc.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: bob})
		require.NoError(t, err)
		a, _ := srv.Member(pID, nID, agent)
		assert.Equal(t, bob, a.TransferringTo)
		_, err = mpc.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: carol})
		require.ErrorIs(t, err, phlo.ErrBadRequest, "one transfer at a time")
		_, err = mpc.Member(agent).ResumeCall(ctx)
		require.NoError(t, err)
		a, _ = srv.Member(pID, nID, agent)
		assert.Empty(t, a.TransferringTo)
		_, ok := srv.Member(pID, nID, bob)
		assert.True(t, ok, "the transfer target stays")
		_, err = mpc.Member(agent).ResumeCall(ctx)
		require.ErrorIs(t, err, phlo.ErrBadRequest)
		assert.Contains(t, err.Error(), "no transfer is in progress.")
	})
	t.Run("warm transfer then abort", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		mpc := srv.Client().Phlo(pID).MultiPartyCall(nID)
		_, err := mpc.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: bob})
		require.NoError(t, err)
		_, err = mpc.Member(agent).AbortTransfer(ctx)
		require.NoError(t, err)
		_, ok := srv.Member(pID, nID, bob)
		assert.False(t, ok, "the transfer target is dropped")
		a, _ := srv.Member(pID, nID, agent)
		assert.Empty(t, a.TransferringTo)
		_, err = mpc.Member(agent).AbortTransfer(ctx)
		require.ErrorIs(t, err, phlo.ErrBadRequest)
	})
	t.Run("hangup of the transfer target ends the transfer", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		mpc := srv.Client().Phlo(pID).MultiPartyCall(nID)
		_, err := mpc.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: bob})
		require.NoError(t, err)
		_, err = mpc.Member(bob).Hangup(ctx)
		require.NoError(t, err)
		a, _ := srv.Member(pID, nID, agent)
		assert.Empty(t, a.TransferringTo)
	})
	t.Run("cold transfer replaces the initiator", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		mpc := srv.Client().Phlo(pID).MultiPartyCall(nID)
		_, err := mpc.ColdTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: bob, Role: phlo.RoleAgent})
		require.NoError(t, err)
		_, ok := srv.Member(pID, nID, agent)
		assert.False(t, ok)
		assert.Equal(t, []phlotest.MemberState{{Address: customer, Role: phlo.RoleCustomer}, {Address: bob, Role: phlo.RoleAgent}}, srv.Members(pID, nID))
		_, err = mpc.Member(agent).AbortTransfer(ctx)
		require.ErrorIs(t, err, phlo.ErrNotFound)
	})
	t.Run("voicemail drop ends the member's part", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		_, err := srv.Client().Phlo(pID).MultiPartyCall(nID).Member(customer).VoicemailDrop(ctx)
		require.NoError(t, err)
		_, ok := srv.Member(pID, nID, customer)
		assert.False(t, ok)
	})
}

func TestGetAndRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _ := setup(t)
	c := srv.Client()
	info, err := c.Phlo(pID).Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Support", info.Name)
	assert.Equal(t, pID, info.PhloID)
	assert.WithinDuration(t, time.Now(), info.CreatedOn, time.Hour)

	node, err := c.Phlo(pID).MultiPartyCall(nID).Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "multi_party_call", node.NodeType)

	res, err := c.Phlo(pID).Run(ctx, map[string]any{"from": "+1", "to": "+2"})
	require.NoError(t, err)
	runs := srv.Runs(pID)
	require.Len(t, runs, 1)
	assert.Equal(t, res.RunID, runs[0].RunID)
	assert.JSONEq(t, `{"from":"+1","to":"+2"}`, string(runs[0].Payload))

	run, err := c.Phlo(pID).GetRun(ctx, res.RunID)
	require.NoError(t, err)
	assert.Equal(t, res.RunID, run.RunID)
	assert.Equal(t, pID, run.PhloID)

	_, err = c.Phlo("other").Run(ctx, nil)
	require.ErrorIs(t, err, phlo.ErrNotFound)

	bad, err := phlo.NewRestClient("MAWRONG", srv.AuthToken, phlo.WithBaseURL(srv.URL))
	require.NoError(t, err)
	defer bad.CloseIdleConnections()
	_, err = bad.Phlo(pID).Get(ctx)
	require.ErrorIs(t, err, phlo.ErrUnauthorized)
}

func TestFaultsAreMetInOrder(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	srv.Inject(phlotest.Fault{Status: 500, Times: 2, Body: `{"api_id":"f1","error":"first"}`})
	srv.Inject(phlotest.Fault{Status: 418, Body: `teapot`, Header: http.Header{"X-Fault": {"2"}}})
	assert.Equal(t, 3, srv.PendingFaults())
	c, err := srv.NewClient(phlo.WithRetryPolicy(phlo.RetryPolicy{}))
	require.NoError(t, err)
	get := func() error { _, err := c.Phlo(pID).Get(context.Background()); return err }

	for range 2 {
		var apiErr *phlo.APIError
		require.ErrorAs(t, get(), &apiErr)
		assert.Equal(t, 500, apiErr.StatusCode)
		assert.Equal(t, "first", apiErr.Message)
	}
	var apiErr *phlo.APIError
	require.ErrorAs(t, get(), &apiErr)
	assert.Equal(t, 418, apiErr.StatusCode)
	assert.Equal(t, "teapot", apiErr.Message)
	require.NoError(t, get())
	assert.Equal(t, 0, srv.PendingFaults())
	assert.Len(t, srv.Requests(), 4)
	srv.ResetRequests()
	assert.Empty(t, srv.Requests())
}

func TestCloseEndsStalledRequests(t *testing.T) {
	t.Parallel()
	srv := phlotest.NewServer()
	srv.AddMember(pID, nID, customer, "")
	srv.Inject(phlotest.Fault{Stall: true, Status: 201})
	srv.Inject(phlotest.Fault{Delay: time.Hour})
	c, err := srv.NewClient(phlo.WithRetryPolicy(phlo.RetryPolicy{}), phlo.WithTimeout(0))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(context.Background())
		}()
	}
	for len(srv.Requests()) < 2 {
		time.Sleep(time.Millisecond)
	}
	srv.Close()
	srv.Close() // a second Close is harmless
	wg.Wait()
	for _, err := range errs {
		require.Error(t, err)
		assert.NotErrorIs(t, err, phlo.ErrInvalidResponse, "a closed server sends no reply, not an empty one")
		var apiErr *phlo.APIError
		assert.False(t, errors.As(err, &apiErr))
	}
}

func TestConcurrentSafety(t *testing.T) {
	t.Parallel()
	srv := phlotest.Start(t)
	c := srv.Client()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := "+1415" + strings.Repeat("0", 3) + string(rune('A'+i%26)) + string(rune('a'+i/26))
			srv.AddMember(pID, nID, addr, phlo.RoleCustomer)
			_, err := c.Phlo(pID).MultiPartyCall(nID).Member(addr).Hold(context.Background())
			assert.NoError(t, err)
			_, _ = srv.Member(pID, nID, addr)
			_ = srv.Requests()
			srv.Inject(phlotest.Fault{Delay: time.Microsecond})
		}()
	}
	wg.Wait()
	for _, m := range srv.Members(pID, nID) {
		assert.True(t, m.OnHold)
	}
}

// TestClientIsMadeOnce: Client returns the one client made at start, as
// httptest's does; NewClient builds another with options, or says why not.
func TestClientIsMadeOnce(t *testing.T) {
	t.Parallel()
	srv := phlotest.NewServer()
	defer srv.Close()
	require.NotNil(t, srv.Client())
	assert.Same(t, srv.Client(), srv.Client())
	_, err := srv.NewClient(phlo.WithTimeout(-1))
	require.ErrorIs(t, err, phlo.ErrInvalidArgument)
	c, err := srv.NewClient(phlo.WithUserAgent("test/1"))
	require.NoError(t, err)
	assert.NotSame(t, srv.Client(), c)
	srv.AddPhlo(pID, "x")
	_, err = c.Phlo(pID).Get(context.Background())
	require.NoError(t, err)
	assert.Contains(t, srv.Requests()[0].Header.Get("User-Agent"), "test/1 phlo-go/")
}

func TestListenAndCredentials(t *testing.T) {
	t.Parallel()
	srv, err := phlotest.Listen("127.0.0.1:0", phlotest.WithCredentials("MAFIXED", "fixed-token"))
	require.NoError(t, err)
	defer srv.Close()
	assert.Equal(t, "MAFIXED", srv.AuthID)
	assert.Equal(t, "fixed-token", srv.AuthToken)
	assert.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"))
	srv.AddPhlo(pID, "x")
	_, err = srv.Client().Phlo(pID).Get(context.Background())
	require.NoError(t, err)

	_, err = phlotest.Listen("127.0.0.1:-1")
	assert.Error(t, err)
}

func TestGeneratedCredentials(t *testing.T) {
	t.Parallel()
	a, b := phlotest.NewServer(), phlotest.NewServer()
	defer a.Close()
	defer b.Close()
	assert.Regexp(t, `^MA[A-Z0-9]{18}$`, a.AuthID)
	assert.Len(t, a.AuthToken, 40)
	assert.NotEqual(t, a.AuthToken, b.AuthToken)
}

// TestFaultMatch: a fault with Match fails only the requests it matches;
// the others are served and do not use it up.
func TestFaultMatch(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	srv.Inject(phlotest.Fault{Status: 503, Times: 2, Match: func(r phlotest.Request) bool { return r.Action == "call" }})
	c, err := srv.NewClient(phlo.WithRetryPolicy(phlo.RetryPolicy{MaxRetries: 3, MinDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	require.NoError(t, err)
	mpc := c.Phlo(pID).MultiPartyCall(nID)
	_, err = mpc.Member(customer).Hold(context.Background())
	require.NoError(t, err, "hold does not match the fault")
	assert.Equal(t, 2, srv.PendingFaults())
	_, err = mpc.Call(context.Background(), phlo.CallParams{TriggerSource: agent, To: "+14155550111"})
	require.ErrorIs(t, err, phlo.ErrServer, "call is not retried on 503")
	assert.Equal(t, 1, srv.PendingFaults())

	var actions []string
	for _, r := range srv.Requests() {
		actions = append(actions, r.Action)
	}
	assert.Equal(t, []string{"hold", "call"}, actions)
}

// TestRequestAction: each request says what it asked for.
func TestRequestAction(t *testing.T) {
	t.Parallel()
	srv, r := setup(t)
	member := "/v1/phlo/" + pID + "/multi_party_call/" + nID + "/members/" + customer
	r.do("POST", member, `{"action":"hold"}`, true)
	r.do("POST", member+"?action=unhold", `{}`, true)
	r.do("POST", "/v1/phlo/"+pID+"/multi_party_call/"+nID, `{"action":"warm_transfer","trigger_source":"`+agent+`","to":"+1999"}`, true)
	r.do("POST", "/v1/account/"+srv.AuthID+"/phlo/"+pID, `""`, true)
	r.do("GET", "/v1/phlo/"+pID, "", true)
	r.do("POST", member, `{"action":5}`, true)
	var actions []string
	for _, req := range srv.Requests() {
		actions = append(actions, req.Action)
	}
	assert.Equal(t, []string{"hold", "unhold", "warm_transfer", "run", "", ""}, actions)
}

// TestRunWithoutPayload: a run with no payload, in every form an official
// SDK sends it, runs with {}.
func TestRunWithoutPayload(t *testing.T) {
	t.Parallel()
	srv, r := setup(t)
	for _, body := range []string{"", "{}", `""`, "null", " null "} {
		status, out := r.do("POST", "/v1/account/"+srv.AuthID+"/phlo/"+pID, body, true)
		assert.Equal(t, http.StatusCreated, status, "%q: %v", body, out)
	}
	for _, run := range srv.Runs(pID) {
		assert.JSONEq(t, `{}`, string(run.Payload))
	}
	assert.Len(t, srv.Runs(pID), 5)
	for _, body := range []string{`"x"`, "[]", "5", "{"} {
		status, _ := r.do("POST", "/v1/account/"+srv.AuthID+"/phlo/"+pID, body, true)
		assert.Equal(t, http.StatusBadRequest, status, body)
	}
}

// TestMemoryIsBounded: the request log keeps the newest MaxRequests with
// bodies cut at MaxRecordedBody, and the runs the newest MaxRuns.
func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	c := srv.Client()
	big := strings.Repeat("x", 100<<10)
	_, err := c.Phlo(pID).Run(context.Background(), map[string]any{"big": big})
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Len(t, reqs[0].Body, phlotest.MaxRecordedBody)
	assert.Len(t, srv.Runs(pID)[0].Payload, phlotest.MaxRecordedBody)

	for i := range phlotest.MaxRuns + 10 {
		_, err := c.Phlo(pID).Run(context.Background(), map[string]any{"n": i})
		require.NoError(t, err)
	}
	runs := srv.Runs(pID)
	require.Len(t, runs, phlotest.MaxRuns)
	assert.JSONEq(t, `{"n":10}`, string(runs[0].Payload), "the oldest runs are forgotten first")
	assert.JSONEq(t, fmt.Sprintf(`{"n":%d}`, phlotest.MaxRuns+9), string(runs[len(runs)-1].Payload))

	for range phlotest.MaxRequests {
		_, err := c.Phlo(pID).MultiPartyCall(nID).Member(customer).Hold(context.Background())
		require.NoError(t, err)
	}
	reqs = srv.Requests()
	require.Len(t, reqs, phlotest.MaxRequests)
	assert.Equal(t, "hold", reqs[0].Action)
	assert.Equal(t, "hold", reqs[len(reqs)-1].Action)
}

// TestHalfSentRequestIsCutOff: a connection that sends half a request's
// headers is closed by the server within 10 seconds.
func TestHalfSentRequestIsCutOff(t *testing.T) {
	t.Parallel()
	srv, err := phlotest.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /v1/phlo/p HTTP/1.1\r\nHost: x\r\nContent-Le")
	require.NoError(t, err)
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection open")
}

// TestListenOnEveryInterface: ":0" listens beyond loopback, as a container
// serving others must, and URL names an address that works here.
func TestListenOnEveryInterface(t *testing.T) {
	t.Parallel()
	srv, err := phlotest.Listen(":0")
	require.NoError(t, err)
	defer srv.Close()
	assert.False(t, srv.LoopbackOnly())
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, srv.URL)
	srv.AddPhlo(pID, "x")
	_, err = srv.Client().Phlo(pID).Get(context.Background())
	require.NoError(t, err)

	local := phlotest.NewServer()
	defer local.Close()
	assert.True(t, local.LoopbackOnly())
}

// TestBridgeOnTheWire: the bridge as any client sees it: the SDKs' forms,
// the runner's checks, and the fake's choices where the runner's are not
// known.
func TestBridgeOnTheWire(t *testing.T) {
	t.Parallel()
	srv, r := setup(t)
	srv.AddBridge(pID, "b1", "Support bridge")
	srv.AddBridgeMember(pID, "b1", customer)
	node := "/v1/phlo/" + pID + "/conference_bridge/b1"
	member := node + "/members/" + customer

	status, out := r.do("GET", node+"/", "", true)
	assert.Equal(t, 200, status)
	assert.Equal(t, "conference_bridge", out["node_type"])
	assert.Equal(t, "Support bridge", out["name"])

	status, _ = r.do("POST", member+"/", `{"action":"mute"}`, true) // Python's trailing slash
	assert.Equal(t, 201, status)
	m, _ := srv.BridgeMember(pID, "b1", customer)
	assert.True(t, m.Muted)
	status, _ = r.do("POST", member+"?action=unmute", `{}`, true)
	assert.Equal(t, 201, status)
	m, _ = srv.BridgeMember(pID, "b1", customer)
	assert.False(t, m.Muted)

	for _, c := range []struct {
		method, path, body string
		auth               bool
		status             int
		text               string
	}{
		{"POST", member, `{"action":"hold"}`, true, 400, "Invalid value provided for action."},
		{"POST", member, `{}`, true, 400, "action is a mandatory param."},
		{"POST", node + "/members/+19999", `{"action":"mute"}`, true, 404, "member not found."},
		{"POST", "/v1/phlo/" + pID + "/conference_bridge/" + nID + "/members/" + customer, `{"action":"mute"}`, true, 404, "node not found."},
		{"POST", "/v1/phlo/" + pID + "/multi_party_call/b1/members/" + customer, `{"action":"hold"}`, true, 404, "node not found."},
		{"POST", node, `{"action":"mute"}`, true, 405, "method not allowed."},
		{"GET", member, "", true, 405, "method not allowed."},
		{"POST", member, `{"action":"mute"}`, false, 401, "authentication failed."},
		{"GET", "/v1/phlo/nope/conference_bridge/b1", "", true, 404, "PHLO not found."},
	} {
		status, out := r.do(c.method, c.path, c.body, c.auth)
		assert.Equal(t, c.status, status, "%s %s", c.method, c.path)
		assert.Equal(t, c.text, out["error"], "%s %s", c.method, c.path)
	}
	status, _ = r.do("POST", member, `{"action":"hangup"}`, true)
	assert.Equal(t, 201, status)
	assert.Empty(t, srv.BridgeMembers(pID, "b1"))
}

// TestSign: the headers Sign returns pass callback.Verify, with a fresh
// nonce each time.
func TestSign(t *testing.T) {
	t.Parallel()
	params := url.Values{"Event": {"member_hold"}}
	uri := "https://callbacks.example.com/plivo/events?x=1"
	a, b := phlotest.Sign("token", "POST", uri, params), phlotest.Sign("token", "POST", uri, params)
	assert.NotEqual(t, a.Get(callback.HeaderNonceV3), b.Get(callback.HeaderNonceV3))
	assert.True(t, callback.ValidateV3("token", "POST", uri, a.Get(callback.HeaderNonceV3), a.Get(callback.HeaderSignatureV3), params))
	assert.False(t, callback.ValidateV3("other", "POST", uri, a.Get(callback.HeaderNonceV3), a.Get(callback.HeaderSignatureV3), params))
}

// TestCredentialsTheSDKRefuses: credentials the SDK refuses fail the
// server when it is made, in the way of each constructor: Listen returns
// the error, NewServer panics with it, Start fails the test.
func TestCredentialsTheSDKRefuses(t *testing.T) {
	t.Parallel()
	bad := phlotest.WithCredentials("MA:colon", "token")
	srv, err := phlotest.Listen("127.0.0.1:0", bad)
	require.ErrorIs(t, err, phlo.ErrInvalidArgument)
	assert.Nil(t, srv)
	assert.Contains(t, err.Error(), "WithCredentials")

	assert.PanicsWithError(t, err.Error(), func() { phlotest.NewServer(bad) })

	ft := &fatalTB{TB: t}
	ft.run(func() { phlotest.Start(ft, bad) })
	assert.Contains(t, ft.fatal, "WithCredentials")
}

// fatalTB records the first Fatal call and ends the goroutine, as testing's
// own does, so that a test can see another test helper fail.
type fatalTB struct {
	testing.TB
	fatal string
}

func (f *fatalTB) Fatal(args ...any) {
	f.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

func (f *fatalTB) Helper() {}

// run calls fn in a goroutine of its own, where Fatal can end it.
func (f *fatalTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}
