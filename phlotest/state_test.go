package phlotest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// seed is a start state with every kind of thing a state holds.
const seed = `{"phlos":[
 {"phlo_id":"p2","name":"Sales","multi_party_calls":[],"conference_bridges":[],"runs":[]},
 {"phlo_id":"p1","name":"Support",
  "multi_party_calls":[{"node_id":"n1","name":"Queue","members":[
    {"address":"sip:alice@phone.plivo.com","role":"agent","on_hold":false,"transferring_to":"+14155550111"},
    {"address":"+14155550100","role":"customer","on_hold":true,"transferring_to":""},
    {"address":"+14155550111","role":"supervisor","on_hold":false,"transferring_to":""}]}],
  "conference_bridges":[{"node_id":"b1","name":"Bridge","members":[{"address":"+14155550122","muted":true}]}],
  "runs":[{"run_id":"r1","payload":{"from":"+1"}}]}]}`

func decodeState(t *testing.T, data []byte) phlotest.State {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st phlotest.State
	require.NoError(t, dec.Decode(&st))
	return st
}

// TestWithStateAndReset: the server starts from the given state, answers
// on the wire from it (runs included), shows it in the JSON form the
// control API promises, and Reset returns to it.
func TestWithStateAndReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := phlotest.Start(t, phlotest.WithState(decodeState(t, []byte(seed))))

	m, ok := srv.Member("p1", "n1", "+14155550100")
	require.True(t, ok)
	assert.Equal(t, phlotest.MemberState{Address: "+14155550100", Role: phlo.RoleCustomer, OnHold: true}, m)
	run, err := srv.Client().Phlo("p1").GetRun(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, "r1", run.RunID)
	info, err := srv.Client().Phlo("p1").MultiPartyCall("n1").Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Queue", info.Name)

	// The state's JSON is exactly the seed's, PHLOs sorted by ID.
	data, err := json.Marshal(srv.State())
	require.NoError(t, err)
	var want any
	require.NoError(t, json.Unmarshal([]byte(seed), &want))
	phlos := want.(map[string]any)["phlos"].([]any)
	phlos[0], phlos[1] = phlos[1], phlos[0]
	wantJSON, _ := json.Marshal(want)
	assert.JSONEq(t, string(wantJSON), string(data))

	// Change everything, then Reset.
	_, err = srv.Client().Phlo("p1").MultiPartyCall("n1").Member("+14155550100").Hangup(ctx)
	require.NoError(t, err)
	srv.AddMember("p3", "n", "+1", "")
	_, err = srv.Client().Phlo("p1").Run(ctx, nil)
	require.NoError(t, err)
	srv.Inject(phlotest.Fault{Status: 500})
	srv.Reset()
	assert.Equal(t, 0, srv.PendingFaults())
	assert.Empty(t, srv.Requests())
	after, err := json.Marshal(srv.State())
	require.NoError(t, err)
	assert.JSONEq(t, string(data), string(after))
}

// TestEmptyStateHasNoNulls: arrays are [] however empty the model is.
func TestEmptyStateHasNoNulls(t *testing.T) {
	t.Parallel()
	srv := phlotest.Start(t)
	data, err := json.Marshal(srv.State())
	require.NoError(t, err)
	assert.JSONEq(t, `{"phlos":[]}`, string(data))
	srv.AddNode("p", "n", "N")
	srv.AddBridge("p", "b", "B")
	data, err = json.Marshal(srv.State())
	require.NoError(t, err)
	assert.JSONEq(t, `{"phlos":[{"phlo_id":"p","name":"PHLO p","runs":[],
		"multi_party_calls":[{"node_id":"n","name":"N","members":[]}],
		"conference_bridges":[{"node_id":"b","name":"B","members":[]}]}]}`, string(data))
}

// TestWithStateRefusesWhatCannotBe: each invalid state is an error naming
// the field, from each constructor.
func TestWithStateRefusesWhatCannotBe(t *testing.T) {
	t.Parallel()
	call := func(members string) string {
		return `{"phlos":[{"phlo_id":"p","multi_party_calls":[{"node_id":"a"},{"node_id":"n","members":[` + members + `]}]}]}`
	}
	long := strings.Repeat("1", phlotest.MaxAddressBytes+1)
	cases := []struct{ state, err string }{
		{call(`{"address":"+1"},{"address":"+2"},{"address":"+3","role":"boss"}`), `phlos[0].multi_party_calls[1].members[2].role: unknown role "boss"`},
		{call(`{"address":"` + long + `"}`), `phlos[0].multi_party_calls[1].members[0].address: longer than MaxAddressBytes (256)`},
		{call(`{"address":""}`), `phlos[0].multi_party_calls[1].members[0].address: "" is not an address`},
		{call(`{"address":"+1"},{"address":"+1"}`), `phlos[0].multi_party_calls[1].members[1].address: "+1" is repeated`},
		{call(`{"address":"+1","transferring_to":"+9"}`), `phlos[0].multi_party_calls[1].members[0].transferring_to: "+9" is not another member of the call`},
		{`{"phlos":[{"phlo_id":"p"},{"phlo_id":"p"}]}`, `phlos[1].phlo_id: "p" is repeated`},
		{`{"phlos":[{"phlo_id":""}]}`, `phlos[0].phlo_id: "" is not an ID`},
		{`{"phlos":[{"phlo_id":"p","conference_bridges":[{"node_id":".."}]}]}`, `phlos[0].conference_bridges[0].node_id: ".." is not an ID`},
		{`{"phlos":[{"phlo_id":"p","runs":[{"run_id":"r","payload":{"a":1}},{"run_id":"r"}]}]}`, `phlos[0].runs[1].run_id: "r" is repeated`},
	}
	for _, c := range cases {
		st := decodeState(t, []byte(c.state))
		_, err := phlotest.Listen("127.0.0.1:0", phlotest.WithState(st))
		require.Error(t, err, c.state)
		assert.Equal(t, "phlotest: WithState: "+c.err, err.Error())
	}

	var tooMany phlotest.State
	for i := range phlotest.MaxPhlos + 1 {
		tooMany.Phlos = append(tooMany.Phlos, phlotest.PhloState{PhloID: fmt.Sprint(i)})
	}
	assert.PanicsWithError(t, "phlotest: WithState: phlos: more than MaxPhlos (1000)", func() { phlotest.NewServer(phlotest.WithState(tooMany)) })
	bad := phlotest.State{Phlos: []phlotest.PhloState{{PhloID: "p", Runs: []phlotest.RunState{{RunID: "r", Payload: []byte("{")}}}}}
	ft := &fatalTB{TB: t}
	ft.run(func() { phlotest.Start(ft, phlotest.WithState(bad)) })
	assert.Equal(t, "phlotest: WithState: phlos[0].runs[0].payload: not valid JSON", ft.fatal)
}

// TestWithStateIsCopied: changing the state after the option is made
// changes neither the start nor what Reset returns to.
func TestWithStateIsCopied(t *testing.T) {
	t.Parallel()
	st := phlotest.State{Phlos: []phlotest.PhloState{{PhloID: "p", MultiPartyCalls: []phlotest.CallState{{NodeID: "n", Members: []phlotest.MemberState{{Address: "+1"}}}}}}}
	srv := phlotest.Start(t, phlotest.WithState(st))
	st.Phlos[0].MultiPartyCalls[0].Members[0].Address = "+2"
	srv.Reset()
	m, ok := srv.Member("p", "n", "+1")
	require.True(t, ok)
	assert.Equal(t, phlo.RoleAgent, m.Role, "an empty role is agent")
	_, ok = srv.Member("p", "n", "+2")
	assert.False(t, ok)
}

// TestCapsOnTheWire: a call past a cap is refused with 409 naming it, and
// changes nothing.
func TestCapsOnTheWire(t *testing.T) {
	t.Parallel()
	srv, r := setup(t)
	call := "/v1/phlo/" + pID + "/multi_party_call/" + nID
	long := strings.Repeat("1", phlotest.MaxAddressBytes+1)
	status, out := r.do("POST", call, `{"action":"call","trigger_source":"`+agent+`","to":"`+long+`"}`, true)
	assert.Equal(t, 409, status)
	assert.Contains(t, out["error"], "MaxAddressBytes (256)")
	assert.Len(t, srv.Members(pID, nID), 2)

	for i := range phlotest.MaxMembersPerNode - 2 {
		srv.AddMember(pID, nID, fmt.Sprint("+", i), "")
	}
	status, out = r.do("POST", call, `{"action":"warm_transfer","trigger_source":"`+agent+`","to":"+1999"}`, true)
	assert.Equal(t, 409, status)
	assert.Contains(t, out["error"], "MaxMembersPerNode (1000)")
	a, _ := srv.Member(pID, nID, agent)
	assert.Empty(t, a.TransferringTo)
	assert.Equal(t, 409, srv.Requests()[1].Status)
}

// TestMaxMembersInAll: the server as a whole holds at most MaxMembers.
func TestMaxMembersInAll(t *testing.T) {
	t.Parallel()
	var st phlotest.State
	for i := range phlotest.MaxMembers / phlotest.MaxMembersPerNode {
		b := phlotest.BridgeState{NodeID: "b"}
		for j := range phlotest.MaxMembersPerNode {
			b.Members = append(b.Members, phlotest.BridgeMemberState{Address: fmt.Sprint("+", j)})
		}
		st.Phlos = append(st.Phlos, phlotest.PhloState{PhloID: fmt.Sprint("p", i), ConferenceBridges: []phlotest.BridgeState{b}})
	}
	// One bridge member makes way for the agent: MaxMembers in all.
	st.Phlos[0].ConferenceBridges[0].Members = st.Phlos[0].ConferenceBridges[0].Members[1:]
	st.Phlos[0].MultiPartyCalls = []phlotest.CallState{{NodeID: "n", Members: []phlotest.MemberState{{Address: agent}}}}
	srv := phlotest.Start(t, phlotest.WithState(st))
	mpc := srv.Client().Phlo("p0").MultiPartyCall("n")
	_, err := mpc.Call(context.Background(), phlo.CallParams{TriggerSource: agent, To: "+1"})
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 409, apiErr.StatusCode)
	assert.Contains(t, apiErr.Message, fmt.Sprintf("MaxMembers (%d)", phlotest.MaxMembers))

	_, err = srv.Client().Phlo("p1").ConferenceBridge("b").Member("+0").Hangup(context.Background())
	require.NoError(t, err)
	_, err = mpc.Call(context.Background(), phlo.CallParams{TriggerSource: agent, To: "+1"})
	require.NoError(t, err, "a member who left makes room")

	st.Phlos[0].ConferenceBridges[0].Members = append(st.Phlos[0].ConferenceBridges[0].Members, phlotest.BridgeMemberState{Address: "+x"})
	_, err = phlotest.Listen("127.0.0.1:0", phlotest.WithState(st))
	last := phlotest.MaxMembers/phlotest.MaxMembersPerNode - 1
	assert.EqualError(t, err, fmt.Sprintf("phlotest: WithState: phlos[%d].conference_bridges[0].members: more than MaxMembers (%d) in all", last, phlotest.MaxMembers))
}
