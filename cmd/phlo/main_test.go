package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/phlogo/phlo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		stop := network.start()
		code := m.Run()
		stop()
		if err := goleak.Find(); code == 0 && err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			return 1
		}
		return code
	}())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve runs "phlo serve" in the background and returns the environment
// that points the other commands at it.
func serve(t *testing.T, args ...string) map[string]string {
	t.Helper()
	env, _ := serveLogged(t, args...)
	return env
}

func phloCmd(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestServeAndDriveACall(t *testing.T) {
	env := serve(t, "--member", "p1/n1/sip:alice@phone.plivo.com/agent", "--member", "p1/n1/+14155550100/customer")
	assert.Regexp(t, `^MA[A-Z0-9]{18}$`, env["PLIVO_AUTH_ID"])

	code, out, errOut := phloCmd(env, "member", "hold", "--phlo", "p1", "--node", "n1", "+14155550100")
	require.Equal(t, 0, code, errOut)
	var resp map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &resp))
	assert.NotEmpty(t, resp["api_id"])

	// Flags may follow the address.
	code, _, errOut = phloCmd(env, "member", "unhold", "+14155550100", "--phlo", "p1", "--node", "n1")
	require.Equal(t, 0, code, errOut)

	code, out, errOut = phloCmd(env, "warm-transfer", "--phlo", "p1", "--node", "n1", "--trigger-source", "sip:alice@phone.plivo.com", "--to", "sip:bob@phone.plivo.com")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"api_id"`)

	code, _, errOut = phloCmd(env, "member", "resume-call", "--phlo", "p1", "--node", "n1", "sip:alice@phone.plivo.com")
	require.Equal(t, 0, code, errOut)

	code, _, errOut = phloCmd(env, "call", "--phlo", "p1", "--node", "n1", "--trigger-source", "sip:alice@phone.plivo.com", "--to", "+14155550111", "--role", "customer")
	require.Equal(t, 0, code, errOut)

	code, _, errOut = phloCmd(env, "cold-transfer", "--phlo", "p1", "--node", "n1", "--trigger-source", "sip:alice@phone.plivo.com", "--to", "+14155550122")
	require.Equal(t, 0, code, errOut)

	for _, action := range []string{"voicemail-drop", "hangup"} {
		addr := map[string]string{"voicemail-drop": "+14155550111", "hangup": "+14155550100"}[action]
		code, _, errOut = phloCmd(env, "member", action, "--phlo", "p1", "--node", "n1", addr)
		require.Equal(t, 0, code, errOut)
	}

	code, _, errOut = phloCmd(env, "member", "hangup", "--phlo", "p1", "--node", "n1", "+14155550100")
	assert.Equal(t, 1, code)
	assert.Equal(t, "phlo: POST "+env["PHLO_BASE_URL"]+"/v1/phlo/p1/multi_party_call/n1/members/+14155550100: 404 Not Found: member not found.", strings.TrimSpace(errOut[:strings.Index(errOut, " (api_id")]))
	assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line")

	code, _, errOut = phloCmd(env, "member", "abort-transfer", "--phlo", "p1", "--node", "n1", "sip:alice@phone.plivo.com")
	assert.Equal(t, 1, code, "alice left with the cold transfer")
	assert.Contains(t, errOut, "404")

	code, out, errOut = phloCmd(env, "get", "node", "--phlo", "p1", "--node", "n1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"node_type": "multi_party_call"`)

	code, out, errOut = phloCmd(env, "get", "phlo", "--phlo", "p1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"phlo_id": "p1"`)
}

func TestRunAndGetRun(t *testing.T) {
	env := serve(t, "--phlo", "p1=Outbound")
	code, out, errOut := phloCmd(env, "run", "--phlo", "p1", "from=+14155550100", "to=+14155550111")
	require.Equal(t, 0, code, errOut)
	var res struct {
		RunID string `json:"phlo_run_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.NotEmpty(t, res.RunID)

	code, out, errOut = phloCmd(env, "get", "run", "--phlo", "p1", res.RunID)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"run_id": "`+res.RunID+`"`)
	assert.Contains(t, out, `"call_uuids": []`)

	code, out, errOut = phloCmd(env, "get", "phlo", "--phlo", "p1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"name": "Outbound"`)

	code, _, errOut = phloCmd(env, "run", "--phlo", "unknown")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404 Not Found: PHLO not found.")
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{"PLIVO_AUTH_ID": "MAXX", "PLIVO_AUTH_TOKEN": "tok", "PHLO_BASE_URL": "http://127.0.0.1:1"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"dance"}, `unknown command "dance"`},
		{"unknown member action", []string{"member", "mute"}, `phlo member: unknown command "mute"`},
		{"member alone", []string{"member"}, `phlo member: which one?`},
		{"no address", []string{"member", "hold", "--phlo", "p", "--node", "n"}, "phlo member hold: want one ADDRESS, got none\n"},
		{"two addresses", []string{"member", "hold", "--phlo", "p", "--node", "n", "+1", "+2"}, `phlo member hold: want one ADDRESS, got 2: ["+1" "+2"]` + "\n"},
		{"no run ID", []string{"get", "run", "--phlo", "p"}, "phlo get run: want one RUN_ID, got none\n"},
		{"an argument too many", []string{"get", "phlo", "--phlo", "p", "extra"}, `phlo get phlo: want no arguments, got 1: ["extra"]` + "\n"},
		{"bad role", []string{"call", "--phlo", "p", "--node", "n", "--trigger-source", "+1", "--to", "+2", "--role", "boss"}, "phlo: --role must be"},
		{"base URL without a scheme", []string{"get", "phlo", "--phlo", "p", "--base-url", "127.0.0.1:8089"}, "phlo: --base-url has no scheme"},
		{"no phlo", []string{"member", "hold", "--node", "n", "+1"}, "--phlo is required"},
		{"no node", []string{"get", "node", "--phlo", "p"}, "--node is required"},
		{"bad flag", []string{"call", "--nope"}, "flag provided but not defined"},
		{"bad payload", []string{"run", "--phlo", "p", "novalue"}, `"novalue" is not key=value`},
		{"bad member seed", []string{"serve", "--member", "p1"}, "is not PHLO/NODE/ADDRESS"},
		{"get what", []string{"get", "call"}, `phlo get: unknown command "call"`},
		{"the old run get", []string{"run", "get", "--phlo", "p", "r"}, `"get" is not key=value`},
		{"bad version flag", []string{"version", "--short"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := phloCmd(env, tc.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

// TestHelpOnEveryCommand: --help on every command and group, and at the
// top, exits 0 and prints on stdout only.
func TestHelpOnEveryCommand(t *testing.T) {
	all := [][]string{{"--help"}, {"-h"}, {"help"}, {"member", "--help"}, {"get", "--help"}, {"get", "-h"}}
	for _, cmd := range commands {
		all = append(all, append(strings.Fields(cmd.name()), "--help"))
	}
	for _, args := range all {
		code, out, errOut := phloCmd(nil, args...)
		assert.Equal(t, 0, code, "%v", args)
		assert.Contains(t, out, "Usage", "%v", args)
		assert.Empty(t, errOut, "%v", args)
	}
	// The help shows no value from the environment: a credential would be
	// printed.
	secrets := map[string]string{"PLIVO_AUTH_ID": "MASECRETSECRETSECRET", "PLIVO_AUTH_TOKEN": "secret-token", "PHLO_BASE_URL": "https://secret.example"}
	for _, args := range all {
		_, out, _ := phloCmd(secrets, args...)
		assert.NotContains(t, out, "secret", "%v", args)
		assert.NotContains(t, out, "SECRET", "%v", args)
	}
	_, out, _ := phloCmd(nil, "get", "run", "--help")
	assert.Contains(t, out, "Usage: phlo get run --phlo ID [flags] RUN_ID")
	assert.Contains(t, out, "-base-url")
}

// TestVersion: "phlo version" and "phlo --version" print the SDK's version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := phloCmd(nil, args...)
		require.Equal(t, 0, code, errOut)
		assert.Regexp(t, `^phlo `+regexp.QuoteMeta(phlo.Version)+` \(go`, out)
	}
}

// TestSuccessOmitsAnEmptyError: an action's output has no "error": "".
func TestSuccessOmitsAnEmptyError(t *testing.T) {
	env := serve(t, "--member", "p1/n1/+14155550100/customer")
	code, out, errOut := phloCmd(env, "member", "hold", "--phlo", "p1", "--node", "n1", "+14155550100")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, `"error"`)
	assert.Contains(t, out, `"api_id"`)
}

// TestServeBeyondLoopback: ":0" serves on every interface, as a container
// must, prints a base URL the SDK takes, and warns on stderr.
func TestServeBeyondLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", ":0", "--phlo", "p1"}, &out, &errOut, func(string) string { return "" })
	}()
	re := regexp.MustCompile(`export (\w+)=(\S+)`)
	env := map[string]string{}
	for len(env) < 3 {
		for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
			env[m[1]] = m[2]
		}
		time.Sleep(time.Millisecond)
	}
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, env["PHLO_BASE_URL"])
	assert.Contains(t, errOut.String(), "warning: listening on :0, beyond loopback")
	code, got, stderr := phloCmd(env, "get", "phlo", "--phlo", "p1")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, got, `"phlo_id": "p1"`)
	cancel()
	assert.Equal(t, 0, <-done)
}

func TestFailuresAreOneLineAndSecretFree(t *testing.T) {
	env := map[string]string{"PLIVO_AUTH_ID": "MASECRETID", "PLIVO_AUTH_TOKEN": "secret-token"}
	code, out, errOut := phloCmd(env, "get", "phlo", "--phlo", "p", "--base-url", "http://127.0.0.1:1", "--timeout", "2s")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, 1, strings.Count(errOut, "\n"))
	assert.NotContains(t, errOut, "secret-token")

	code, _, errOut = phloCmd(map[string]string{}, "get", "phlo", "--phlo", "p", "--base-url", "http://127.0.0.1:1")
	assert.Equal(t, 2, code, "nothing was sent")
	assert.Contains(t, errOut, "PLIVO_AUTH_ID is not set")

	code, _, errOut = phloCmd(env, "get", "phlo", "--phlo", "p", "--base-url", "http://example.com")
	assert.Equal(t, 2, code, "nothing was sent")
	assert.Contains(t, errOut, "must use https unless the host is loopback")
}

func TestServeKeepsGivenCredentialsQuiet(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--auth-id", "MAGIVEN", "--auth-token", "given-token"}, &out, &out, func(string) string { return "" })
	}()
	for !strings.Contains(out.String(), "PHLO_BASE_URL") {
		time.Sleep(time.Millisecond)
	}
	cancel()
	assert.Equal(t, 0, <-done)
	assert.NotContains(t, out.String(), "given-token")
}

// TestNoControlCharacterFromAServer: whatever a server sends, in an error
// or in a result, the CLI writes no control character but line ends.
func TestNoControlCharacterFromAServer(t *testing.T) {
	const evil = "\x1b]0;owned\x07\x1b[2J\u009b31m\u202e\u2028\x7f\U000E0001"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			json.NewEncoder(w).Encode(map[string]string{"api_id": evil, "phlo_id": "p", "name": evil})
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"api_id": evil, "error": evil + "\nphlo: forged line"})
	}))
	defer srv.Close()
	env := map[string]string{"PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "token", "PHLO_BASE_URL": srv.URL}
	for _, args := range [][]string{
		{"member", "hold", "--phlo", "p", "--node", "n", "+1"},
		{"get", "phlo", "--phlo", "p"},
	} {
		code, out, errOut := phloCmd(env, args...)
		assert.NotEqual(t, 2, code, errOut)
		for _, s := range []string{out, errOut} {
			for _, r := range s {
				if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
					t.Errorf("%v wrote %U: %q", args, r, s)
				}
			}
		}
		if code == 0 {
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &v), "the output is still JSON")
			assert.Equal(t, evil, v["name"], "the escapes decode to the server's text")
		} else {
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		}
	}
}

func TestBridgeCommands(t *testing.T) {
	env := serve(t, "--bridge-member", "p1/b1/+14155550100", "--bridge-member", "p1/b1/sip:alice@phone.plivo.com")
	for _, action := range []string{"mute", "unmute", "hangup"} {
		code, out, errOut := phloCmd(env, "bridge", action, "--phlo", "p1", "--node", "b1", "+14155550100")
		require.Equal(t, 0, code, "%s: %s", action, errOut)
		assert.Contains(t, out, `"api_id"`)
	}
	code, _, errOut := phloCmd(env, "bridge", "mute", "--phlo", "p1", "--node", "b1", "+14155550100")
	assert.Equal(t, 1, code, "the member hung up")
	assert.Contains(t, errOut, "404 Not Found: member not found.")

	code, out, errOut := phloCmd(env, "get", "bridge", "--phlo", "p1", "--node", "b1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"node_type": "conference_bridge"`)

	code, _, errOut = phloCmd(env, "bridge", "hold", "--phlo", "p1", "--node", "b1", "+1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `phlo bridge: unknown command "hold"`)
	code, _, errOut = phloCmd(nil, "serve", "--bridge-member", "p1/b1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "is not PHLO/NODE/ADDRESS")
}
