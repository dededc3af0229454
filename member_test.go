package phlo_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
)

type memberCall func(*phlo.Member, context.Context) (*phlo.ActionResponse, error)

var memberActions = []struct {
	name   string
	action string
	call   memberCall
}{
	{"Hold", "hold", (*phlo.Member).Hold},
	{"Unhold", "unhold", (*phlo.Member).Unhold},
	{"Hangup", "hangup", (*phlo.Member).Hangup},
	{"ResumeCall", "resume_call", (*phlo.Member).ResumeCall},
	{"VoicemailDrop", "voicemail_drop", (*phlo.Member).VoicemailDrop},
	{"AbortTransfer", "abort_transfer", (*phlo.Member).AbortTransfer},
}

func TestMemberActionsOnTheWire(t *testing.T) {
	t.Parallel()
	addresses := []struct {
		address, path string
	}{
		{"14155551234", "14155551234"},
		{"+14155551234", "+14155551234"},
		{"sip:alice140703@phone.plivo.com", "sip:alice140703@phone.plivo.com"},
		{"sip:a/b?c#d e%f@x", "sip:a%2Fb%3Fc%23d%20e%25f@x"},
	}
	for _, a := range memberActions {
		for _, addr := range addresses {
			t.Run(a.name+"/"+addr.address, func(t *testing.T) {
				t.Parallel()
				c, rec := mockClient(t, http.StatusCreated, `{"api_id":"a1b2","error":""}`)
				m := c.Phlo("phlo-1").MultiPartyCall("node 1").Member(addr.address)

				resp, err := a.call(m, context.Background())
				require.NoError(t, err)
				assert.Equal(t, &phlo.ActionResponse{APIID: "a1b2"}, resp)

				require.Len(t, rec.all(), 1, "one request per action")
				w := rec.last(t)
				assert.Equal(t, http.MethodPost, w.Method)
				assert.Equal(t, "/v1/phlo/phlo-1/multi_party_call/node%201/members/"+addr.path, w.Path)
				assert.Empty(t, w.Query)
				assertJSONHeaders(t, w, true)
				assert.JSONEq(t, `{"action":"`+a.action+`"}`, string(w.Body))
				assert.Equal(t, `{"action":"`+a.action+`"}`, string(w.Body))
			})
		}
	}
}

func TestMemberActionRejectsBadInputBeforeSending(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, phloID, nodeID, address, param string
	}{
		{"empty address", "p", "n", "", "address"},
		{"dot address", "p", "n", ".", "address"},
		{"dot-dot address", "p", "n", "..", "address"},
		{"newline in address", "p", "n", "+1415\n", "address"},
		{"NUL in address", "p", "n", "+14\x0015", "address"},
		{"DEL in address", "p", "n", "+14\x7f15", "address"},
		{"C1 control in address", "p", "n", "+14\u008515", "address"},
		{"invalid UTF-8 address", "p", "n", "+14\xff15", "address"},
		{"empty PHLO", "", "n", "+1", "phloID"},
		{"dot-dot PHLO", "..", "n", "+1", "phloID"},
		{"empty node", "p", "", "+1", "nodeID"},
		{"tab in node", "p", "n\t", "+1", "nodeID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, rec := mockClient(t, http.StatusCreated, `{"api_id":"x","error":""}`)
			m := c.Phlo(tc.phloID).MultiPartyCall(tc.nodeID).Member(tc.address)
			for _, a := range memberActions {
				resp, err := a.call(m, context.Background())
				require.Error(t, err)
				assert.Nil(t, resp)
				assert.ErrorIs(t, err, phlo.ErrInvalidArgument)
				var argErr *phlo.ArgumentError
				require.ErrorAs(t, err, &argErr)
				assert.Equal(t, tc.param, argErr.Name)
				assert.Contains(t, err.Error(), tc.param)
			}
			assert.Empty(t, rec.all(), "bad input must send nothing")
		})
	}
}

func TestMemberActionErrorFieldOn2xxIsAnError(t *testing.T) {
	t.Parallel()
	c, _ := mockClient(t, http.StatusCreated, `{"api_id":"e-1","error":"member is not in the call"}`)
	resp, err := c.Phlo("p").MultiPartyCall("n").Member("+1").Hold(context.Background())
	require.Error(t, err)
	assert.Nil(t, resp)
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusCreated, apiErr.StatusCode)
	assert.Equal(t, "e-1", apiErr.APIID)
	assert.Equal(t, "member is not in the call", apiErr.Message)
	assert.Equal(t, "POST", apiErr.Method)
	assert.Equal(t, "/v1/phlo/p/multi_party_call/n/members/+1", apiErr.Path)
	assert.False(t, errors.Is(err, phlo.ErrServer))
}

func TestMemberHandles(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusCreated, `{}`)
	m := c.Phlo("p").MultiPartyCall("n").Member("sip:x@y")
	assert.Equal(t, "sip:x@y", m.Address())
	assert.Equal(t, "n", m.NodeID())
	assert.Equal(t, "p", m.PhloID())
	assert.Empty(t, rec.all(), "handles cost no I/O")
}
