package phlotest_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// TestFaultApply: a fault with Apply lets the request act, then fails the
// reply; without Apply the same fault changes nothing.
func TestFaultApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	noRetry := phlo.WithRetryPolicy(phlo.RetryPolicy{})
	cases := []struct {
		name  string
		fault phlotest.Fault
		// statuses are what the journal says the fake answered, without
		// and with Apply: a fault with no status answers 200 unless
		// Apply, where the call's 201 is the one cut short.
		statuses [2]int
	}{
		{"drop", phlotest.Fault{Drop: true}, [2]int{0, 0}},
		{"status", phlotest.Fault{Status: 502, Body: "<html>bad gateway</html>"}, [2]int{502, 502}},
		{"truncate", phlotest.Fault{Truncate: true}, [2]int{200, 201}},
		{"stall", phlotest.Fault{Stall: true}, [2]int{200, 201}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for i, apply := range []bool{false, true} {
				srv, _ := setup(t)
				f := c.fault
				f.Apply = apply
				srv.Inject(f)
				cl, err := srv.NewClient(noRetry, phlo.WithTimeout(300*time.Millisecond))
				require.NoError(t, err)
				mpc := cl.Phlo(pID).MultiPartyCall(nID)
				_, err = mpc.Call(ctx, phlo.CallParams{TriggerSource: agent, To: "+14155550111"})
				require.Error(t, err)
				_, dialled := srv.Member(pID, nID, "+14155550111")
				assert.Equal(t, apply, dialled, "apply=%v", apply)
				reqs := srv.Requests()
				require.Len(t, reqs, 1)
				assert.Equal(t, c.statuses[i], reqs[0].Status)
			}
		})
	}
}

// TestFaultApplyRun: a run that met an applied fault is recorded.
func TestFaultApplyRun(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	srv.Inject(phlotest.Fault{Status: 500, Apply: true})
	_, err := srv.Client().Phlo(pID).Run(context.Background(), map[string]any{"n": 1})
	require.ErrorIs(t, err, phlo.ErrServer)
	require.Len(t, srv.Runs(pID), 1)
	assert.JSONEq(t, `{"n":1}`, string(srv.Runs(pID)[0].Payload))
}

// TestFaultApplyTruncatesTheRealReply: with Apply and no Status, the
// normal reply is the one cut short.
func TestFaultApplyTruncatesTheRealReply(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	srv.Inject(phlotest.Fault{Truncate: true, Apply: true})
	req, err := http.NewRequest("GET", srv.URL+"/v1/phlo/"+pID, nil)
	require.NoError(t, err)
	req.SetBasicAuth(srv.AuthID, srv.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	assert.Equal(t, 200, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.Error(t, err, "the body is cut short")
	assert.Contains(t, string(body), `"name":"Support"`)
}

// TestFaultFilters: Method, Action and PathPrefix choose the requests that
// meet a fault; the others pass and do not use it up.
func TestFaultFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _ := setup(t)
	srv.AddBridgeMember(pID, "b1", customer)
	c, err := srv.NewClient(phlo.WithRetryPolicy(phlo.RetryPolicy{}))
	require.NoError(t, err)
	p := c.Phlo(pID)
	bridgePath := "/v1/phlo/" + pID + "/conference_bridge/"

	srv.Inject(phlotest.Fault{Status: 503, Method: "POST", Action: "hangup", PathPrefix: bridgePath})
	_, err = p.MultiPartyCall(nID).Member(customer).Hold(ctx) // wrong action
	require.NoError(t, err)
	_, err = p.ConferenceBridge("b1").Get(ctx) // GET
	require.NoError(t, err)
	_, err = p.ConferenceBridge("b1").Member(customer).Mute(ctx) // wrong action
	require.NoError(t, err)
	require.Equal(t, 1, srv.PendingFaults())
	_, err = p.MultiPartyCall(nID).Member(agent).Hangup(ctx) // wrong path
	require.NoError(t, err)
	require.Equal(t, 1, srv.PendingFaults())
	_, err = p.ConferenceBridge("b1").Member(customer).Hangup(ctx)
	require.ErrorIs(t, err, phlo.ErrServer)
	assert.Equal(t, 0, srv.PendingFaults())
	_, still := srv.BridgeMember(pID, "b1", customer)
	assert.True(t, still)

	var statuses []int
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []int{201, 200, 201, 201, 503}, statuses)
}

// TestFaultStatusOutOfRange: a Status no HTTP reply can carry is answered
// as a 500 that says so, rather than breaking the handler.
func TestFaultStatusOutOfRange(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	srv.Inject(phlotest.Fault{Status: 42})
	c, err := srv.NewClient(phlo.WithRetryPolicy(phlo.RetryPolicy{}))
	require.NoError(t, err)
	_, err = c.Phlo(pID).Get(context.Background())
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 500, apiErr.StatusCode)
	assert.Contains(t, apiErr.Message, "Fault.Status 42")
}

// TestFastRetries: the server's clients keep the SDK's retry rules with
// millisecond waits: a hold through two 503s returns in under 100 ms (the
// fastest of three tries, so that a loaded machine does not decide), and
// a call is still not retried.
func TestFastRetries(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	ctx := context.Background()
	member := srv.Client().Phlo(pID).MultiPartyCall(nID).Member(customer)
	fastest := time.Hour
	for range 3 {
		srv.Inject(phlotest.Fault{Status: 503, Times: 2})
		start := time.Now()
		_, err := member.Hold(ctx)
		fastest = min(fastest, time.Since(start))
		require.NoError(t, err)
	}
	assert.Less(t, fastest, 100*time.Millisecond)
	assert.Len(t, srv.Requests(), 9)

	srv.Inject(phlotest.Fault{Status: 503, Times: 3})
	_, err := member.Hold(ctx)
	require.ErrorIs(t, err, phlo.ErrServer, "two retries, as the default policy")
	assert.Equal(t, phlo.DefaultRetryPolicy().MaxRetries, phlotest.FastRetryPolicy().MaxRetries)

	_, err = srv.Client().Phlo(pID).MultiPartyCall(nID).Call(ctx, phlo.CallParams{TriggerSource: agent, To: "+1"})
	require.NoError(t, err)
	srv.Inject(phlotest.Fault{Status: 503})
	_, err = srv.Client().Phlo(pID).MultiPartyCall(nID).Call(ctx, phlo.CallParams{TriggerSource: agent, To: "+2"})
	require.ErrorIs(t, err, phlo.ErrServer, "a call is never resent after a 503")
}
