package phlo_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

var bridgeActions = []struct {
	name, action string
	call         func(*phlo.BridgeMember, context.Context) (*phlo.ActionResponse, error)
}{
	{"Mute", "mute", (*phlo.BridgeMember).Mute},
	{"Unmute", "unmute", (*phlo.BridgeMember).Unmute},
	{"Hangup", "hangup", (*phlo.BridgeMember).Hangup},
}

func TestBridgeActionsOnTheWire(t *testing.T) {
	t.Parallel()
	for _, a := range bridgeActions {
		for address, path := range map[string]string{
			"+14155551234":              "+14155551234",
			"sip:alice@phone.plivo.com": "sip:alice@phone.plivo.com",
			"sip:a/b?c#d e%f@x":         "sip:a%2Fb%3Fc%23d%20e%25f@x",
		} {
			t.Run(a.name+"/"+address, func(t *testing.T) {
				t.Parallel()
				c, rec := mockClient(t, http.StatusCreated, `{"api_id":"b1","error":""}`)
				resp, err := a.call(c.Phlo("phlo-1").ConferenceBridge("node 1").Member(address), context.Background())
				require.NoError(t, err)
				assert.Equal(t, &phlo.ActionResponse{APIID: "b1"}, resp)
				require.Len(t, rec.all(), 1, "one request per action")
				w := rec.last(t)
				assert.Equal(t, http.MethodPost, w.Method)
				assert.Equal(t, "/v1/phlo/phlo-1/conference_bridge/node%201/members/"+path, w.Path)
				assert.Empty(t, w.Query)
				assertJSONHeaders(t, w, true)
				assert.Equal(t, `{"action":"`+a.action+`"}`, string(w.Body))
			})
		}
	}
}

func TestBridgeGetOnTheWire(t *testing.T) {
	t.Parallel()
	c, rec := mockClient(t, http.StatusOK, `{"api_id":"g","node_id":"n","phlo_id":"p","name":"Support bridge","node_type":"conference_bridge","created_on":"2020-08-01 09:05:11.846982+00:00"}`)
	b := c.Phlo("p").ConferenceBridge("n")
	info, err := b.Get(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "conference_bridge", info.NodeType)
	assert.Equal(t, "Support bridge", info.Name)
	assert.Equal(t, time.Date(2020, 8, 1, 9, 5, 11, 846982000, time.UTC), info.CreatedOn.UTC())
	w := rec.last(t)
	assert.Equal(t, http.MethodGet, w.Method)
	assert.Equal(t, "/v1/phlo/p/conference_bridge/n", w.Path)
	assertJSONHeaders(t, w, false)
	assert.Equal(t, "p", b.PhloID())
	assert.Equal(t, "n", b.ID())
}

// TestBridgeHandlesAreFree: reaching a bridge member from IDs costs no I/O
// and no allocation when the handle does not outlive the call.
func TestBridgeHandlesAreFree(t *testing.T) {
	c, rec := mockClient(t, http.StatusCreated, `{}`)
	n := 0
	allocs := testing.AllocsPerRun(1000, func() {
		m := c.Phlo("p").ConferenceBridge("n").Member("+1")
		n += len(m.Address()) + len(m.NodeID()) + len(m.PhloID())
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, n)
	assert.Empty(t, rec.all())
}

func TestBridgeRejectsBadInputBeforeSending(t *testing.T) {
	t.Parallel()
	var nilBridge *phlo.ConferenceBridge
	var nilMember *phlo.BridgeMember
	var nilPhlo *phlo.Phlo
	c, rec := mockClient(t, http.StatusCreated, `{}`)
	cases := map[string]func() error{
		"empty address": func() error { _, err := c.Phlo("p").ConferenceBridge("n").Member("").Mute(ctx()); return err },
		"dot-dot":       func() error { _, err := c.Phlo("p").ConferenceBridge("n").Member("..").Unmute(ctx()); return err },
		"control":       func() error { _, err := c.Phlo("p").ConferenceBridge("n").Member("+1\n").Hangup(ctx()); return err },
		"empty node":    func() error { _, err := c.Phlo("p").ConferenceBridge("").Member("+1").Mute(ctx()); return err },
		"empty phlo":    func() error { _, err := c.Phlo("").ConferenceBridge("n").Get(ctx()); return err },
		"nil bridge":    func() error { _, err := nilBridge.Member("+1").Mute(ctx()); return err },
		"nil bridge get": func() error {
			_, err := nilBridge.Get(ctx())
			return err
		},
		"nil member": func() error { _, err := nilMember.Mute(ctx()); return err },
		"nil phlo":   func() error { _, err := nilPhlo.ConferenceBridge("n").Member("+1").Hangup(ctx()); return err },
	}
	for name, call := range cases {
		var err error
		require.NotPanics(t, func() { err = call() }, name)
		assert.ErrorIs(t, err, phlo.ErrInvalidArgument, name)
	}
	assert.Empty(t, rec.all())
}

// TestBridgeActionsAreIdempotent: mute and unmute leave the bridge as one
// send would, so they are retried like hold, and a 500 is not; hangup acts
// on whoever is at the address when it arrives, so it is never resent once
// it may have arrived.
func TestBridgeActionsAreIdempotent(t *testing.T) {
	t.Parallel()
	for _, a := range bridgeActions {
		retried := map[int]int{503: 3, 502: 3, 504: 3, 500: 1, 400: 1}
		if a.name == "Hangup" {
			retried = map[int]int{503: 1, 502: 1, 504: 1, 500: 1, 400: 1, 429: 3}
		}
		for status, sends := range retried {
			t.Run(fmt.Sprint(a.name, status), func(t *testing.T) {
				t.Parallel()
				c, rec := mockClient(t, status, `{"api_id":"x","error":"busy"}`, fast)
				_, err := a.call(c.Phlo("p").ConferenceBridge("n").Member("+1"), ctx())
				require.Error(t, err)
				assert.Len(t, rec.all(), sends)
			})
		}
	}
}

// TestBridgeAgainstTheFake: the fake models the bridge, and a multi-party
// call's action on a bridge node, or the reverse, finds no node.
func TestBridgeAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := phlotest.Start(t)
	srv.AddBridge("p", "bridge", "Support bridge")
	srv.AddBridgeMember("p", "bridge", "+14155550100")
	srv.AddBridgeMember("p", "bridge", "sip:alice@phone.plivo.com")
	srv.AddMember("p", "mpc", "+14155550100", phlo.RoleCustomer)
	c := srv.Client()
	ctx := context.Background()
	b := c.Phlo("p").ConferenceBridge("bridge")

	info, err := b.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "conference_bridge", info.NodeType)
	assert.Equal(t, "Support bridge", info.Name)

	for range 2 { // muting twice changes nothing the second time
		_, err = b.Member("+14155550100").Mute(ctx)
		require.NoError(t, err)
		m, ok := srv.BridgeMember("p", "bridge", "+14155550100")
		require.True(t, ok)
		assert.True(t, m.Muted)
	}
	_, err = b.Member("+14155550100").Unmute(ctx)
	require.NoError(t, err)
	m, _ := srv.BridgeMember("p", "bridge", "+14155550100")
	assert.False(t, m.Muted)
	_, err = b.Member("sip:alice@phone.plivo.com").Hangup(ctx)
	require.NoError(t, err)
	assert.Equal(t, []phlotest.BridgeMemberState{{Address: "+14155550100"}}, srv.BridgeMembers("p", "bridge"))

	_, err = b.Member("sip:alice@phone.plivo.com").Mute(ctx)
	var apiErr *phlo.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.Equal(t, "member not found.", apiErr.Message)

	_, err = c.Phlo("p").ConferenceBridge("mpc").Member("+14155550100").Mute(ctx)
	require.ErrorIs(t, err, phlo.ErrNotFound, "a multi-party call is no bridge")
	_, err = c.Phlo("p").MultiPartyCall("bridge").Member("+14155550100").Hold(ctx)
	require.ErrorIs(t, err, phlo.ErrNotFound, "a bridge is no multi-party call")
	_, err = c.Phlo("p").MultiPartyCall("bridge").Get(ctx)
	require.ErrorIs(t, err, phlo.ErrNotFound)
	_, err = c.Phlo("nope").ConferenceBridge("bridge").Get(ctx)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "PHLO not found.", apiErr.Message)
	mpc, _ := srv.Member("p", "mpc", "+14155550100")
	assert.False(t, mpc.OnHold)
}
