package phlo_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

type callAction func(*phlo.MultiPartyCall, context.Context, phlo.CallParams) (*phlo.ActionResponse, error)

var callActions = []struct {
	name, action string
	call         callAction
}{
	{"Call", "call", (*phlo.MultiPartyCall).Call},
	{"WarmTransfer", "warm_transfer", (*phlo.MultiPartyCall).WarmTransfer},
	{"ColdTransfer", "cold_transfer", (*phlo.MultiPartyCall).ColdTransfer},
}

func TestCallActionsOnTheWire(t *testing.T) {
	t.Parallel()
	roles := []struct {
		role phlo.Role
		wire string
	}{
		{"", "agent"},
		{phlo.RoleAgent, "agent"},
		{phlo.RoleCustomer, "customer"},
		{phlo.RoleSupervisor, "supervisor"},
	}
	for _, a := range callActions {
		for _, r := range roles {
			t.Run(a.name+"/"+r.wire, func(t *testing.T) {
				t.Parallel()
				c, rec := mockClient(t, http.StatusCreated, `{"api_id":"c-1","error":""}`)
				resp, err := a.call(c.Phlo("ph/1").MultiPartyCall("nd?1"), context.Background(), phlo.CallParams{
					TriggerSource: "sip:agent@phone.plivo.com", To: "+14155550111", Role: r.role,
				})
				require.NoError(t, err)
				assert.Equal(t, &phlo.ActionResponse{APIID: "c-1"}, resp)

				require.Len(t, rec.all(), 1)
				w := rec.last(t)
				assert.Equal(t, http.MethodPost, w.Method)
				assert.Equal(t, "/v1/phlo/ph%2F1/multi_party_call/nd%3F1", w.Path)
				assert.Empty(t, w.Query)
				assertJSONHeaders(t, w, true)
				assert.Equal(t, `{"action":"`+a.action+`","trigger_source":"sip:agent@phone.plivo.com","to":"+14155550111","role":"`+r.wire+`"}`, string(w.Body))
			})
		}
	}
}

func TestCallActionsRejectBadParams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		p     phlo.CallParams
		param string
	}{
		{"no trigger source", phlo.CallParams{To: "+1"}, "TriggerSource"},
		{"no to", phlo.CallParams{TriggerSource: "+1"}, "To"},
		{"control in to", phlo.CallParams{TriggerSource: "+1", To: "+1\r\n"}, "To"},
		{"control in role", phlo.CallParams{TriggerSource: "+1", To: "+2", Role: "ag\x00ent"}, "CallParams.Role"},
		{"unknown role", phlo.CallParams{TriggerSource: "+1", To: "+2", Role: "boss"}, "CallParams.Role"},
		{"role in another case", phlo.CallParams{TriggerSource: "+1", To: "+2", Role: "Supervisor"}, "CallParams.Role"},
		{"role with spaces", phlo.CallParams{TriggerSource: "+1", To: "+2", Role: " agent"}, "CallParams.Role"},
	}
	for _, a := range callActions {
		for _, tc := range cases {
			t.Run(a.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c, rec := mockClient(t, http.StatusCreated, `{}`)
				resp, err := a.call(c.Phlo("p").MultiPartyCall("n"), context.Background(), tc.p)
				assert.Nil(t, resp)
				require.ErrorIs(t, err, phlo.ErrInvalidArgument)
				var argErr *phlo.ArgumentError
				require.ErrorAs(t, err, &argErr)
				assert.Equal(t, tc.param, argErr.Name)
				assert.Empty(t, rec.all())
			})
		}
	}
}

// TestUnknownRoleIsRefusedBeforeSending: a role the runner does not know
// is bad input, named as CallParams.Role, and nothing is sent; a role the
// runner learns later goes through Do until the SDK knows it.
func TestUnknownRoleIsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusCreated, `{"api_id":"r-1","error":""}`)
	_, err := c.Phlo("p").MultiPartyCall("n").Call(context.Background(), phlo.CallParams{TriggerSource: "+1", To: "+2", Role: "boss"})
	require.ErrorIs(t, err, phlo.ErrInvalidArgument)
	assert.Equal(t, `phlo: invalid argument: CallParams.Role must be "agent", "customer" or "supervisor", not "boss"`, err.Error())
	assert.Empty(t, rec.all())

	err = c.Do(context.Background(), phlo.Request{Method: "POST", Path: []string{"phlo", "p", "multi_party_call", "n"},
		Body: map[string]string{"action": "call", "trigger_source": "+1", "to": "+2", "role": "observer"}}, nil)
	require.NoError(t, err)
	assert.Contains(t, string(rec.last(t).Body), `"role":"observer"`)
}

func TestGetNode(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusOK, `{"api_id":"g-1","node_id":"n 1","phlo_id":"p","name":"MPC","node_type":"multi_party_call","created_on":"2020-08-01 09:05:11.846982+00:00"}`)
	mpc := c.Phlo("p").MultiPartyCall("n 1")
	assert.Equal(t, "n 1", mpc.ID())
	assert.Equal(t, "p", mpc.PhloID())
	info, err := mpc.Get(context.Background())
	require.NoError(t, err)
	assert.True(t, info.CreatedOn.Equal(time.Date(2020, 8, 1, 9, 5, 11, 846982000, time.UTC)), "created_on = %v", info.CreatedOn)
	info.CreatedOn = time.Time{}
	assert.Equal(t, &phlo.NodeInfo{APIID: "g-1", NodeID: "n 1", PhloID: "p", Name: "MPC", NodeType: "multi_party_call"}, info)

	w := rec.last(t)
	assert.Equal(t, http.MethodGet, w.Method)
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n%201", w.Path)
	assertJSONHeaders(t, w, false)
}
