package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// savedState is a state saved from a running fake, as a test suite saves
// GET /__phlo/state: a call with a member on hold and an agent transferring,
// a bridge with a muted member, and a run.
func savedState(t *testing.T) (phlotest.State, string) {
	t.Helper()
	ctx := context.Background()
	src := phlotest.Start(t)
	src.AddPhlo("p1", "Support")
	src.AddMember("p1", "n1", "sip:alice@phone.plivo.com", phlo.RoleAgent)
	src.AddMember("p1", "n1", "+14155550100", phlo.RoleCustomer)
	src.AddBridgeMember("p1", "b1", "+14155550122")
	c := src.Client()
	mpc := c.Phlo("p1").MultiPartyCall("n1")
	_, err := mpc.Member("+14155550100").Hold(ctx)
	require.NoError(t, err)
	_, err = mpc.WarmTransfer(ctx, phlo.CallParams{TriggerSource: "sip:alice@phone.plivo.com", To: "sip:bob@phone.plivo.com"})
	require.NoError(t, err)
	_, err = c.Phlo("p1").ConferenceBridge("b1").Member("+14155550122").Mute(ctx)
	require.NoError(t, err)
	run, err := c.Phlo("p1").Run(ctx, map[string]any{"count": 5})
	require.NoError(t, err)
	st := src.State()
	data, err := json.Marshal(st)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	require.Len(t, st.Phlos, 1)
	require.Len(t, st.Phlos[0].Runs, 1)
	require.Equal(t, run.RunID, st.Phlos[0].Runs[0].RunID)
	return st, file
}

// TestServeStartsFromASeedFile: --seed loads a saved state whole, the other
// flags add to it, and a reset returns to both.
func TestServeStartsFromASeedFile(t *testing.T) {
	saved, file := savedState(t)
	in := invocationOf(t, cmdServe, nil, "--addr", "127.0.0.1:0", "--seed", file, "--quiet",
		"--member", "p1/n1/+14155550199/supervisor", "--member", "p2/n9/+14155550188", "--bridge-member", "p1/b1/+14155550177", "--phlo", "p3=Outbound")
	srv, _, err := in.newServer()
	require.NoError(t, err)
	defer srv.Close()

	want := saved
	p1 := &want.Phlos[0]
	p1.MultiPartyCalls[0].Members = append(p1.MultiPartyCalls[0].Members, phlotest.MemberState{Address: "+14155550199", Role: phlo.RoleSupervisor})
	p1.ConferenceBridges[0].Members = append(p1.ConferenceBridges[0].Members, phlotest.BridgeMemberState{Address: "+14155550177"})
	want.Phlos = append(want.Phlos,
		phlotest.PhloState{PhloID: "p2", Name: "PHLO p2", ConferenceBridges: []phlotest.BridgeState{}, Runs: []phlotest.RunState{},
			MultiPartyCalls: []phlotest.CallState{{NodeID: "n9", Name: srv.State().Phlos[1].MultiPartyCalls[0].Name,
				Members: []phlotest.MemberState{{Address: "+14155550188", Role: phlo.RoleAgent}}}}},
		phlotest.PhloState{PhloID: "p3", Name: "Outbound", MultiPartyCalls: []phlotest.CallState{}, ConferenceBridges: []phlotest.BridgeState{}, Runs: []phlotest.RunState{}})
	assertState(t, want, srv.State())

	_, err = srv.Client().Phlo("p1").MultiPartyCall("n1").Member("+14155550100").Unhold(context.Background())
	require.NoError(t, err)
	m, _ := srv.Member("p1", "n1", "+14155550100")
	require.False(t, m.OnHold)
	srv.Reset()
	assertState(t, want, srv.State())
}

func assertState(t *testing.T, want, got phlotest.State) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g))
}

// TestServeSeededRunAndRequestLog: a seeded run answers GET .../runs/{id};
// each runner request, a refused one too, is one line on stderr, which
// --quiet silences. No line carries a credential.
func TestServeSeededRunAndRequestLog(t *testing.T) {
	saved, file := savedState(t)
	runID := saved.Phlos[0].Runs[0].RunID
	for _, quiet := range []bool{false, true} {
		args := []string{"--seed", file}
		if quiet {
			args = append(args, "--quiet")
		}
		env, errOut := serveLogged(t, args...)
		code, out, stderr := phloCmd(env, "get", "run", "--phlo", "p1", runID)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, out, `"run_id": "`+runID+`"`)
		code, _, stderr = phloCmd(env, "member", "unhold", "--phlo", "p1", "--node", "n1", "+14155550100")
		require.Equal(t, 0, code, stderr)
		wrong := map[string]string{"PLIVO_AUTH_ID": env["PLIVO_AUTH_ID"], "PLIVO_AUTH_TOKEN": "wrong-token", "PHLO_BASE_URL": env["PHLO_BASE_URL"]}
		code, _, _ = phloCmd(wrong, "member", "hold", "--phlo", "p1", "--node", "n1", "+14155550100")
		require.Equal(t, 1, code)

		if quiet {
			assert.Empty(t, errOut.String())
			continue
		}
		lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
		require.Len(t, lines, 3, errOut.String())
		assert.Regexp(t, `^GET /v1/phlo/p1/runs/`+regexp.QuoteMeta(runID)+` .*\b200\b`, lines[0])
		assert.Regexp(t, `^POST /v1/phlo/p1/multi_party_call/n1/members/\+14155550100 .*\bunhold\b.*\b201\b`, lines[1])
		assert.Regexp(t, `^POST /v1/phlo/p1/multi_party_call/n1/members/\+14155550100 .*\b401\b`, lines[2])
		assert.NotContains(t, errOut.String(), env["PLIVO_AUTH_TOKEN"])
		assert.NotContains(t, errOut.String(), "wrong-token")
	}
}

// serveLogged is serve, with what the fake writes on stderr.
func serveLogged(t *testing.T, args ...string) (map[string]string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), &out, &errOut, func(string) string { return "" })
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, 0, <-done)
	})
	env := map[string]string{}
	re := regexp.MustCompile(`export (\w+)=(\S+)`)
	for len(env) < 3 {
		for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
			env[m[1]] = m[2]
		}
		require.Empty(t, errOut.String())
		time.Sleep(time.Millisecond)
	}
	return env, &errOut
}

// TestServeRefusesABadSeed: a seed the fake cannot start from is a usage
// error naming the file, or the flag that made the part at fault, and the
// field.
func TestServeRefusesABadSeed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	member := func(fields string) string {
		return `{"phlos":[{"phlo_id":"p1","multi_party_calls":[{"node_id":"n1","members":[{"address":"+1"},{"address":"+2",` + fields + `}]}]}]}`
	}
	good := write("good.json", member(`"role":"customer"`))
	long := strings.Repeat("1", phlotest.MaxAddressBytes+1)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown field", []string{"--seed", write("a.json", member(`"rol":"customer"`))}, "a.json: phlos[0].multi_party_calls[0].members[1].rol: unknown field"},
		{"unknown role", []string{"--seed", write("b.json", member(`"role":"boss"`))}, `b.json: phlos[0].multi_party_calls[0].members[1].role: unknown role "boss"`},
		{"wrong type", []string{"--seed", write("c.json", member(`"on_hold":"yes"`))}, "c.json: phlos[0].multi_party_calls[0].members[1].on_hold: want true or false"},
		{"not an array", []string{"--seed", write("d.json", `{"phlos":{}}`)}, "d.json: phlos: want an array"},
		{"not an object", []string{"--seed", write("e.json", `[]`)}, "e.json: the file: want an object"},
		{"not JSON", []string{"--seed", write("f.json", "{\"phlos\":[\n  }")}, "f.json: line 2, column 3: invalid character '}'"},
		{"empty", []string{"--seed", write("g.json", "")}, "g.json: holds no JSON value"},
		{"two values", []string{"--seed", write("h.json", "{}\n{}")}, "h.json: line 2, column 1: more than one JSON value"},
		{"no file", []string{"--seed", filepath.Join(dir, "none.json")}, "none.json: no such file or directory"},
		{"flag after a file", []string{"--seed", good, "--member", "p1/n1/" + long}, `phlo serve: --member "p1/n1/` + long + `": phlos[0].multi_party_calls[0].members[2].address: longer than`},
		{"bridge flag", []string{"--bridge-member", "p1/b1/..", "--member", "p1/n1/+1"}, `phlo serve: --bridge-member "p1/b1/..": phlos[0].conference_bridges[0].members[0].address: ".." is not an address`},
		{"PHLO flag", []string{"--seed", good, "--phlo", "p1=" + strings.Repeat("n", phlotest.MaxNameBytes+1)}, `phlo serve: --phlo "p1=nnn`},
		{"node ID", []string{"--member", "p1/" + strings.Repeat("n", phlotest.MaxIDBytes+1) + "/+1"}, ".multi_party_calls[0].node_id: longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errOut strings.Builder
			code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), &out, &errOut, func(string) string { return "" })
			assert.Equal(t, 2, code)
			assert.Empty(t, out.String())
			assert.Contains(t, errOut.String(), tc.want)
			if strings.Contains(strings.Join(tc.args, " "), "--seed") && !strings.HasPrefix(tc.name, "flag") && tc.name != "PHLO flag" {
				assert.Contains(t, errOut.String(), "phlo serve: --seed "+dir)
			}
			assert.NotRegexp(t, `WithState|Go struct|phlotest\.`, errOut.String())
		})
	}
}

// TestServeRefusesBadCredentials: credentials the SDK would refuse are
// named by flag and variable, and never printed.
func TestServeRefusesBadCredentials(t *testing.T) {
	var out, errOut strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--auth-id", "MA:BAD"}, &out, &errOut, func(k string) string {
		return map[string]string{"PLIVO_AUTH_TOKEN": "secret-token"}[k]
	})
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "phlo: --auth-id (or $PLIVO_AUTH_ID) must not contain ':'")
	assert.NotContains(t, errOut.String(), "secret-token")
	assert.NotContains(t, errOut.String(), "MA:BAD")
}

// TestServeLogHidesAGivenAuthID: the auth ID in a run's path is logged as
// "{auth_id}" when it was given, since the command never prints a given
// credential.
func TestServeLogHidesAGivenAuthID(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	creds := map[string]string{"PLIVO_AUTH_ID": "MAGIVENGIVENGIVEN000", "PLIVO_AUTH_TOKEN": "given-token"}
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--phlo", "p1"}, &out, &errOut, func(k string) string { return creds[k] })
	}()
	base := regexp.MustCompile(`export PHLO_BASE_URL=(\S+)`)
	for !base.MatchString(out.String()) {
		time.Sleep(time.Millisecond)
	}
	env := map[string]string{"PHLO_BASE_URL": base.FindStringSubmatch(out.String())[1], "PLIVO_AUTH_ID": creds["PLIVO_AUTH_ID"], "PLIVO_AUTH_TOKEN": creds["PLIVO_AUTH_TOKEN"]}
	code, _, stderr := phloCmd(env, "run", "--phlo", "p1")
	require.Equal(t, 0, code, stderr)
	cancel()
	require.Equal(t, 0, <-done)
	assert.Regexp(t, `(?m)^POST /v1/account/\{auth_id\}/phlo/p1 .*\b201\b`, errOut.String())
	assert.NotContains(t, out.String()+errOut.String(), "MAGIVENGIVENGIVEN000")
	assert.NotContains(t, out.String()+errOut.String(), "given-token")
}

// TestServeSeedOverTheWire: what a test suite in another language sees of
// a seeded "phlo serve": GET /__phlo/state answers the seed file with what
// the flags add, and POST /__phlo/reset returns to it after a hold. Control
// requests are not logged.
func TestServeSeedOverTheWire(t *testing.T) {
	saved, file := savedState(t)
	env, errOut := serveLogged(t, "--seed", file, "--member", "p1/n1/+14155550199/supervisor")
	control := func(method, path string) []byte {
		req, err := http.NewRequest(method, env["PHLO_BASE_URL"]+path, nil)
		require.NoError(t, err)
		req.SetBasicAuth(env["PLIVO_AUTH_ID"], env["PLIVO_AUTH_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Less(t, resp.StatusCode, 300, "%s %s: %s", method, path, body)
		return body
	}
	want := saved
	calls := want.Phlos[0].MultiPartyCalls
	calls[0].Members = append(calls[0].Members, phlotest.MemberState{Address: "+14155550199", Role: phlo.RoleSupervisor})
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(control("GET", "/__phlo/state")))

	code, _, stderr := phloCmd(env, "member", "unhold", "--phlo", "p1", "--node", "n1", "+14155550100")
	require.Equal(t, 0, code, stderr)
	assert.NotEqual(t, string(wantJSON), string(control("GET", "/__phlo/state")))
	control("POST", "/__phlo/reset")
	assert.JSONEq(t, string(wantJSON), string(control("GET", "/__phlo/state")))
	assert.Equal(t, 1, strings.Count(errOut.String(), "\n"), "one line, for the unhold: %s", errOut)
}
