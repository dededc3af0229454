package phlotest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// TestRemote: a Go test drives a fake in "another process" (a Listen'ed
// server, reached over the wire only) through the control API.
func TestRemote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := phlotest.Listen("127.0.0.1:0", phlotest.WithCredentials("MAREMOTEREMOTEREMOTE", "remote-token"))
	require.NoError(t, err)
	defer srv.Close()
	remote, err := phlotest.Connect(srv.URL+"/", "MAREMOTEREMOTEREMOTE", "remote-token")
	require.NoError(t, err)
	defer remote.CloseIdleConnections()

	const odd = "sip:a/b?c@x" // one escaped segment
	require.NoError(t, remote.AddMember(ctx, pID, nID, customer, phlo.RoleCustomer))
	require.NoError(t, remote.AddMember(ctx, pID, nID, odd, ""))
	m, ok, err := remote.Member(ctx, pID, nID, odd)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, phlotest.MemberState{Address: odd, Role: phlo.RoleAgent}, m)

	member := srv.Client().Phlo(pID).MultiPartyCall(nID).Member(customer)
	_, err = member.Hold(ctx)
	require.NoError(t, err)
	m, ok, err = remote.Member(ctx, pID, nID, customer)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, m.OnHold)
	_, ok, err = remote.Member(ctx, pID, nID, "+19")
	require.NoError(t, err)
	assert.False(t, ok)

	require.NoError(t, remote.AddBridgeMember(ctx, pID, "b1", customer))
	_, err = srv.Client().Phlo(pID).ConferenceBridge("b1").Member(customer).Mute(ctx)
	require.NoError(t, err)
	bm, ok, err := remote.BridgeMember(ctx, pID, "b1", customer)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, phlotest.BridgeMemberState{Address: customer, Muted: true}, bm)

	require.NoError(t, remote.Inject(ctx, phlotest.Fault{Status: 503, Times: 3, Action: "unhold", Header: http.Header{"X-A": {"b"}}, Delay: time.Microsecond}))
	assert.Equal(t, 3, srv.PendingFaults())
	_, err = member.Unhold(ctx)
	require.ErrorIs(t, err, phlo.ErrServer)
	err = remote.Inject(ctx, phlotest.Fault{Status: 500, Match: func(phlotest.Request) bool { return true }})
	assert.ErrorContains(t, err, "use Method, Action and PathPrefix")
	assert.Equal(t, 0, srv.PendingFaults())

	reqs, err := remote.Requests(ctx)
	require.NoError(t, err)
	local := srv.Requests()
	require.Len(t, reqs, len(local))
	for i := range local {
		local[i].Header = nil
		assert.Equal(t, local[i], reqs[i])
	}
	assert.Equal(t, []int{201, 201, 503, 503, 503}, []int{reqs[0].Status, reqs[1].Status, reqs[2].Status, reqs[3].Status, reqs[4].Status})

	require.NoError(t, remote.Reset(ctx))
	_, ok, err = remote.Member(ctx, pID, nID, customer)
	require.NoError(t, err)
	assert.False(t, ok)
	reqs, err = remote.Requests(ctx)
	require.NoError(t, err)
	assert.Empty(t, reqs)

	err = remote.AddMember(ctx, pID, nID, "+1", "boss")
	var re *phlotest.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 400, re.StatusCode)
	assert.Contains(t, re.Message, `unknown role "boss"`)
}

// TestConnectRefusesWhatCannotWork: bad arguments are errors before
// anything is sent; wrong credentials are the fake's 401.
func TestConnectRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	for _, args := range [][3]string{
		{"127.0.0.1:8089", "id", "token"},
		{"ftp://127.0.0.1", "id", "token"},
		{"http://127.0.0.1?x=1", "id", "token"},
		{"http://127.0.0.1", "", "token"},
		{"http://127.0.0.1", "id", ""},
		{"http://[::1", "id", "token"},
	} {
		_, err := phlotest.Connect(args[0], args[1], args[2])
		assert.Error(t, err, "%q", args)
	}
	srv := phlotest.Start(t)
	remote, err := phlotest.Connect(srv.URL, srv.AuthID, "wrong")
	require.NoError(t, err)
	defer remote.CloseIdleConnections()
	err = remote.Reset(context.Background())
	var re *phlotest.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 401, re.StatusCode)
	assert.NotContains(t, err.Error(), "wrong")
	//lint:ignore SA1012 a nil context is refused, not a panic
	assert.Error(t, remote.Reset(nil))
}
