package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goIdentifier matches the names the SDK's Go API gives what a shell user
// sets; no message of the command may carry one.
var goIdentifier = regexp.MustCompile(`\b(With[A-Z]\w*|phlo\.[A-Z]\w*|authID|authToken|phloID|nodeID|runID|address|CallParams|TriggerSource|To|Role|payload key|DefaultBaseURL)\b`)

// invocationOf parses args as cmd's, in the environment env.
func invocationOf(t *testing.T, cmd *command, env map[string]string, args ...string) *invocation {
	t.Helper()
	c := &cli{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return env[k] }}
	in := newInvocation(c, cmd)
	require.NoError(t, in.flags.Parse(args))
	return in
}

// TestEveryArgumentTerm: each argument the SDK names is restated as the
// flag, variable or argument the user set.
func TestEveryArgumentTerm(t *testing.T) {
	in := invocationOf(t, commands[0], nil)
	for name, term := range argumentTerms {
		err := in.explain(&phlo.ArgumentError{Name: name, Reason: "is wrong"})
		assert.EqualError(t, err, "phlo: "+term+" is wrong", name)
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--base-url", "https://a.example"}, "phlo: --base-url is wrong"},
		{map[string]string{"PHLO_BASE_URL": "https://a.example"}, nil, "phlo: $PHLO_BASE_URL is wrong"},
		{map[string]string{"PHLO_BASE_URL": "https://a.example"}, []string{"--base-url", "https://b.example"}, "phlo: --base-url is wrong"},
		{nil, nil, "phlo: the default base URL is wrong"},
	} {
		in := invocationOf(t, commands[0], tc.env, tc.args...)
		assert.EqualError(t, in.explain(&phlo.ArgumentError{Name: "WithBaseURL", Reason: "is wrong"}), tc.want)
	}
	other := &phlo.ArgumentError{Name: "Request.Body", Reason: "is wrong"}
	var argErr *phlo.ArgumentError
	explained := in.explain(other)
	require.ErrorAs(t, explained, new(badInput), "refused before sending")
	require.ErrorAs(t, explained.(badInput).error, &argErr)
	assert.Same(t, other, argErr, "an argument no command sets is left as the SDK says it")
}

// TestMessagesInTheUsersTerms: what a shell user gets wrong is named as
// they wrote it, never as the SDK's Go API spells it, and nothing is sent.
func TestMessagesInTheUsersTerms(t *testing.T) {
	env := func(kv ...string) map[string]string {
		m := map[string]string{"PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "secret-token", "PHLO_BASE_URL": "http://127.0.0.1:1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	hold := []string{"member", "hold", "--phlo", "p", "--node", "n", "+14155550100"}
	call := []string{"call", "--phlo", "p", "--node", "n", "--trigger-source", "+14155550100", "--to", "+14155550111"}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
		sdk  string // the SDK's name for what is at fault, if it is the SDK's refusal
	}{
		{"base URL flag without a scheme", env(), append(hold, "--base-url", "127.0.0.1:8089"), 2, "phlo: --base-url has no scheme: write http://127.0.0.1:8089", "WithBaseURL"},
		{"base URL variable without a scheme", env("PHLO_BASE_URL", "localhost:8089"), hold, 2, "phlo: $PHLO_BASE_URL has no scheme: write http://localhost:8089", "WithBaseURL"},
		{"remote base URL without a scheme", env("PHLO_BASE_URL", "phlo:8089"), hold, 2,
			"phlo: $PHLO_BASE_URL has no scheme: write https://phlo:8089, or http://phlo:8089 with --insecure-http for a fake runner on another host, such as phlo serve in another container", "WithBaseURL"},
		{"remote base URL without a scheme, insecure", env("PHLO_BASE_URL", "phlo:8089"), append(hold, "--insecure-http"), 2, "phlo: $PHLO_BASE_URL has no scheme: write http://phlo:8089", "WithBaseURL"},
		{"plain HTTP flag", env(), append(hold, "--base-url", "http://phlo.example:8089"), 2,
			"phlo: --base-url must use https unless the host is loopback, since basic auth would cross the network in clear; for a fake runner on another host, such as phlo serve in another container, add --insecure-http", "WithBaseURL"},
		{"plain HTTP variable", env("PHLO_BASE_URL", "http://phlo.example:8089"), hold, 2, "phlo: $PHLO_BASE_URL must use https unless the host is loopback", "WithBaseURL"},
		{"empty base URL flag", env(), append(hold, "--base-url", ""), 2, "phlo: --base-url must not be empty", "WithBaseURL"},
		{"base URL with a query", env("PHLO_BASE_URL", "https://phlo.example?x=1"), hold, 2, "phlo: $PHLO_BASE_URL must not have a query or fragment", "WithBaseURL"},
		{"timeout without a unit", env(), append(hold, "--timeout", "5"), 2, `phlo member hold: invalid value "5" for flag --timeout: want a duration with a unit, such as 5s`, ""},
		{"negative timeout", env(), append(hold, "--timeout=-1s"), 2, "for flag --timeout: must not be negative", ""},
		{"no auth ID", env("PLIVO_AUTH_ID", ""), hold, 2, "phlo: $PLIVO_AUTH_ID is not set", ""},
		{"no auth token", env("PLIVO_AUTH_TOKEN", ""), hold, 2, "phlo: $PLIVO_AUTH_TOKEN is not set", ""},
		{"bad auth ID", env("PLIVO_AUTH_ID", "MA:XX"), hold, 2, "phlo: $PLIVO_AUTH_ID must not contain ':'", "authID"},
		{"bad auth token", env("PLIVO_AUTH_TOKEN", "secret\x01token"), hold, 2, "phlo: $PLIVO_AUTH_TOKEN must not contain control characters", "authToken"},
		{"bad PHLO", env(), []string{"member", "hold", "--phlo", ".", "--node", "n", "+1"}, 2, `phlo: --phlo must not be "."`, "phloID"},
		{"bad node", env(), []string{"member", "hold", "--phlo", "p", "--node", "..", "+1"}, 2, `phlo: --node must not be ".."`, "nodeID"},
		{"bad address", env(), []string{"member", "hold", "--phlo", "p", "--node", "n", "."}, 2, `phlo: ADDRESS must not be "."`, "address"},
		{"bad run ID", env(), []string{"get", "run", "--phlo", "p", ".."}, 2, `phlo: RUN_ID must not be ".."`, "runID"},
		{"no to", env(), call[:len(call)-2], 2, "phlo: --to must not be empty", "To"},
		{"no trigger source", env(), []string{"call", "--phlo", "p", "--node", "n", "--to", "+1"}, 2, "phlo: --trigger-source must not be empty", "TriggerSource"},
		{"unknown role", env(), append(call, "--role", "boss"), 2, `phlo: --role must be "agent", "customer" or "supervisor", not "boss"`, "CallParams.Role"},
		{"role in another case", env(), append(call, "--role", "Supervisor"), 2, `phlo: --role must be`, "CallParams.Role"},
		{"bad payload key", env(), []string{"run", "--phlo", "p", "a\x01b=c"}, 2, "phlo: the key of a key=value argument must not contain control characters", "payload key"},
	}
	reached := map[string]bool{}
	for _, tc := range cases {
		reached[tc.sdk] = true
	}
	for name := range argumentTerms {
		assert.True(t, reached[name], "no case refuses %s", name)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := phloCmd(tc.env, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
			assert.NotRegexp(t, goIdentifier, errOut)
			assert.NotContains(t, errOut, "secret")
			assert.NotContains(t, errOut, "127.0.0.1:1", "nothing was sent")
		})
	}
}

// TestBaseURLCredentialsAreNeverEchoed: a base URL that carries a password
// is refused without repeating it, with a scheme or without.
func TestBaseURLCredentialsAreNeverEchoed(t *testing.T) {
	env := map[string]string{"PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "token"}
	for _, u := range []string{"https://user:hunter2@phlo.example", "user:hunter2@127.0.0.1:8089", "http://user:hunter2@127.0.0.1:8089"} {
		code, _, errOut := phloCmd(env, "get", "phlo", "--phlo", "p", "--base-url", u)
		assert.Equal(t, 2, code, u)
		assert.Contains(t, errOut, "phlo: --base-url ", u)
		assert.NotContains(t, errOut, "hunter2", u)
	}
}

// TestTimeoutReachedNamesTheFlag: a call that --timeout ends says so.
func TestTimeoutReachedNamesTheFlag(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select { // never answers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	env := map[string]string{"PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "token", "PHLO_BASE_URL": srv.URL}
	code, out, errOut := phloCmd(env, "member", "hold", "--phlo", "p", "--node", "n", "+14155550100", "--timeout", "100ms")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "--timeout 100ms ran out")
	assert.NotRegexp(t, goIdentifier, errOut)
	assert.Equal(t, 1, strings.Count(errOut, "\n"))
}

// TestInsecureHTTPReachesAFakeOnAnotherHost: with --insecure-http the
// commands reach a fake runner by a name that is not loopback, as a
// container reaches "phlo serve" in another; without it they refuse.
func TestInsecureHTTPReachesAFakeOnAnotherHost(t *testing.T) {
	srv := phlotest.Start(t)
	srv.AddMember("p1", "n1", "+14155550100", phlo.RoleCustomer)
	network.route(t, "phlo:8089", srv.URL)
	env := map[string]string{"PLIVO_AUTH_ID": srv.AuthID, "PLIVO_AUTH_TOKEN": srv.AuthToken, "PHLO_BASE_URL": "http://phlo:8089"}
	hold := []string{"member", "hold", "--phlo", "p1", "--node", "n1", "+14155550100"}

	code, _, errOut := phloCmd(env, hold...)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "$PHLO_BASE_URL must use https unless the host is loopback")
	assert.Contains(t, errOut, "--insecure-http")
	assert.Empty(t, srv.Requests())

	code, out, errOut := phloCmd(env, append(hold, "--insecure-http")...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"api_id"`)
	m, ok := srv.Member("p1", "n1", "+14155550100")
	require.True(t, ok)
	assert.True(t, m.OnHold)
	require.Len(t, srv.Requests(), 1)
	assert.Equal(t, "hold", srv.Requests()[0].Action)
}

// TestRunPayloadGrammar: key=value sends a string and key:=JSON the JSON
// value itself, as httpie does.
func TestRunPayloadGrammar(t *testing.T) {
	srv := phlotest.Start(t)
	srv.AddPhlo("p", "Outbound")
	env := map[string]string{"PLIVO_AUTH_ID": srv.AuthID, "PLIVO_AUTH_TOKEN": srv.AuthToken, "PHLO_BASE_URL": srv.URL}
	code, _, errOut := phloCmd(env, "run", "--phlo", "p", "count:=5", "vip:=true", "from=+14155550100", "note=a=b", "raw=5",
		`tags:=["a",1]`, `extra:={"k":null}`, "t:x=y", "dup=1", "dup=2")
	require.Equal(t, 0, code, errOut)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	assert.JSONEq(t, `{"count":5,"vip":true,"from":"+14155550100","note":"a=b","raw":"5",
		"tags":["a",1],"extra":{"k":null},"t:x":"y","dup":"2"}`, string(reqs[0].Body))

	for _, tc := range []struct{ arg, want string }{
		{"count:=fiv", `"count:=fiv" is not key:=JSON: "fiv" is not JSON (for a string, write count=fiv)`},
		{"count:=", `"count:=" is not key:=JSON`},
		{":=5", `":=5" is not key=value or key:=JSON`},
		{"=5", `"=5" is not key=value or key:=JSON`},
		{"count", `"count" is not key=value or key:=JSON`},
	} {
		code, out, errOut := phloCmd(env, "run", "--phlo", "p", tc.arg)
		assert.Equal(t, 2, code, tc.arg)
		assert.Empty(t, out)
		assert.Contains(t, errOut, "phlo run: "+tc.want, tc.arg)
	}
	assert.Len(t, srv.Requests(), 1, "a bad argument sends nothing")
}

// TestServeRefusesAMalformedSeed: a mistyped role or an extra part is a
// usage error naming the flag, never part of an address.
func TestServeRefusesAMalformedSeed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--member", "p1/n1/+1/supervsor"}, `phlo serve: --member "p1/n1/+1/supervsor": unknown role "supervsor": the role is agent, customer or supervisor`},
		{[]string{"--member", "p1/n1/+1/Customer"}, `unknown role "Customer"`},
		{[]string{"--member", "p1/n1/sip:a/b/agent"}, `phlo serve: --member "p1/n1/sip:a/b/agent" has too many parts for PHLO/NODE/ADDRESS[/ROLE]: an address cannot contain "/"`},
		{[]string{"--member", "p1/n1/"}, `--member "p1/n1/" is not PHLO/NODE/ADDRESS[/ROLE]`},
		{[]string{"--member", "p1//+1"}, `--member "p1//+1" is not PHLO/NODE/ADDRESS[/ROLE]`},
		{[]string{"--bridge-member", "p1/b1/+1/agent"}, `phlo serve: --bridge-member "p1/b1/+1/agent" has too many parts for PHLO/NODE/ADDRESS: an address cannot contain "/"`},
		{[]string{"--bridge-member", "/b1/+1"}, `--bridge-member "/b1/+1" is not PHLO/NODE/ADDRESS`},
		{[]string{"--phlo", "=Name"}, `--phlo "=Name" has no ID`},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a seed that is taken would serve until this ends
		var out, errOut strings.Builder
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), &out, &errOut, func(string) string { return "" })
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, out.String())
		assert.Contains(t, errOut.String(), tc.want)
	}
}

// TestServeSeedsEveryRole: each role is taken, and a member without one is
// an agent.
func TestServeSeedsEveryRole(t *testing.T) {
	in := invocationOf(t, cmdServe, nil, "--member", "p/n/+1", "--member", "p/n/+2/customer", "--member", "p/n/+3/supervisor", "--member", "p/n/sip:a@x.example/agent",
		"--bridge-member", "p/b/+4")
	s, err := in.parseSeeds()
	require.NoError(t, err)
	assert.Equal(t, []seedMember{
		{"p", "n", "+1", phlo.RoleAgent, `--member "p/n/+1"`},
		{"p", "n", "+2", phlo.RoleCustomer, `--member "p/n/+2/customer"`},
		{"p", "n", "+3", phlo.RoleSupervisor, `--member "p/n/+3/supervisor"`},
		{"p", "n", "sip:a@x.example", phlo.RoleAgent, `--member "p/n/sip:a@x.example/agent"`},
	}, s.members)
	assert.Equal(t, []seedMember{{"p", "b", "+4", "", `--bridge-member "p/b/+4"`}}, s.bridgeMembers)
}

// TestServeWarningSpeaksCommandLine: the warning for a fake beyond
// loopback names the flag that reaches it, not the SDK's option.
func TestServeWarningSpeaksCommandLine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", ":0"}, &out, &errOut, func(string) string { return "" })
	}()
	for !strings.Contains(out.String(), "PLIVO_AUTH_TOKEN") {
		time.Sleep(time.Millisecond)
	}
	cancel()
	assert.Equal(t, 0, <-done)
	assert.Contains(t, errOut.String(), "--insecure-http")
	assert.Regexp(t, `http://HOST:\d+ `, errOut.String())
	assert.NotRegexp(t, goIdentifier, errOut.String())
}

// TestServeNamesTheAddressItCannotListenOn: a port in use is named as the
// flag that chose it.
func TestServeNamesTheAddressItCannotListenOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut strings.Builder
	code := run(ctx, []string{"serve", "--addr", ln.Addr().String()}, &out, &errOut, func(string) string { return "" })
	assert.Equal(t, 1, code)
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "phlo: --addr: listen tcp "+ln.Addr().String())
}

// TestUsageLinesMatchTheTable: every flag a usage line names is one the
// command takes, and one with positional arguments says so.
func TestUsageLinesMatchTheTable(t *testing.T) {
	for _, cmd := range commands {
		in := newInvocation(&cli{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}, cmd)
		for _, flagName := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(cmd.usage, -1) {
			assert.NotNil(t, in.flags.Lookup(flagName[1]), "%s: --%s", cmd.name(), flagName[1])
		}
		assert.Equal(t, cmd.target >= onPhlo, strings.Contains(cmd.usage, "--phlo ID"), cmd.name())
		assert.Equal(t, cmd.target == onNode, strings.Contains(cmd.usage, "--node ID"), cmd.name())
		takesArgs := cmd.nargs[1] != 0
		assert.Equal(t, takesArgs, regexp.MustCompile(`[A-Z_]+$|\.\.\.$`).MatchString(cmd.usage), cmd.name())
	}
}
