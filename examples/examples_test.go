package examples_test

import (
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is the test's environment without credentials, as on a fresh machine.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLIVO_") && !strings.HasPrefix(kv, "PHLO_") {
			out = append(out, kv)
		}
	}
	return out
}

// TestExamplesRunOnAFreshMachine runs each example program as a user would,
// with no credentials: each uses the in-process fake runner.
func TestExamplesRunOnAFreshMachine(t *testing.T) {
	cases := map[string][]string{
		"hold": {
			"acting on the fake PHLO runner in this process, at http://127.0.0.1:",
			"member +14155550100: in the call=true role=customer on_hold=false",
			"hold +14155550100: api_id=",
			"member +14155550100: in the call=true role=customer on_hold=true",
			"unhold +14155550100: api_id=",
		},
		"transfer": {
			"acting on the fake PHLO runner in this process, at http://127.0.0.1:",
			"hold +14155550100\n  +14155550100: in the call=true role=customer on_hold=true transferring_to=\n",
			"warm transfer sip:alice@phone.plivo.com -> sip:bob@phone.plivo.com: api_id=",
			"  sip:alice@phone.plivo.com: in the call=true role=agent on_hold=false transferring_to=sip:bob@phone.plivo.com\n",
			"resume call sip:alice@phone.plivo.com\nunhold +14155550100\n" +
				"  sip:alice@phone.plivo.com: in the call=true role=agent on_hold=false transferring_to=\n" +
				"  +14155550100: in the call=true role=customer on_hold=false transferring_to=\n" +
				"  sip:bob@phone.plivo.com: in the call=true role=agent on_hold=false transferring_to=\n",
		},
		"run": {
			"acting on the fake PHLO runner in this process, at http://127.0.0.1:",
			`PHLO demo-phlo "Demo PHLO", created `,
			`message="PHLO run initiated."`,
			"calls=[] messages=[] recordings=[]",
		},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "run", "./"+name)
			cmd.Env = env()
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			for _, w := range want {
				assert.Contains(t, string(out), w)
			}
			assert.NotContains(t, string(out), "Plivo's")
		})
	}
}

// TestExamplesSayWhichRunnerTheyActOn: pointed at another runner with
// PHLO_BASE_URL, as at phlo serve, an example says so rather than claiming
// real calls. The runner is a fake in this process, on loopback.
func TestExamplesSayWhichRunnerTheyActOn(t *testing.T) {
	srv := phlotest.Start(t)
	srv.AddMember("p1", "n1", "+14155550100", phlo.RoleCustomer)
	cmd := exec.Command("go", "run", "./hold")
	cmd.Env = append(env(), "PLIVO_AUTH_ID="+srv.AuthID, "PLIVO_AUTH_TOKEN="+srv.AuthToken, "PHLO_BASE_URL="+srv.URL,
		"PHLO_ID=p1", "PHLO_NODE_ID=n1", "PHLO_MEMBER=+14155550100")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "acting on the PHLO runner at "+srv.URL+" (PHLO_BASE_URL), not Plivo's\n")
	assert.Contains(t, string(out), "unhold +14155550100: api_id=")
	assert.Len(t, srv.Requests(), 2)
}

// TestTransferCompensatesInTheSafeOrder: when the warm transfer fails, the
// example takes the customer off hold at once only when the transfer did
// not happen (a 4xx); when its outcome is unknown (a 5xx, a dropped
// connection) it aborts the transfer first and unholds only once the runner
// has cancelled it or said that none is in progress; when even the abort's
// outcome is unknown, the customer stays on hold.
func TestTransferCompensatesInTheSafeOrder(t *testing.T) {
	cases := map[string]struct {
		faults  []phlotest.Fault
		actions []string
		onHold  bool
		want    []string
	}{
		"refused: unhold at once": {
			faults:  []phlotest.Fault{{Action: "warm_transfer", Status: http.StatusBadRequest, Body: `{"error":"no"}`}},
			actions: []string{"hold", "warm_transfer", "unhold"},
			want:    []string{"the transfer failed: unhold +14155550100\n", ": 400 Bad Request"},
		},
		"500, not performed: abort, then unhold": {
			faults:  []phlotest.Fault{{Action: "warm_transfer", Status: http.StatusInternalServerError}},
			actions: []string{"hold", "warm_transfer", "abort_transfer", "unhold"},
			want: []string{"the transfer may have started: abort transfer sip:alice@phone.plivo.com\nthe transfer failed: unhold +14155550100\n",
				"error: phlo: POST {URL}/v1/phlo/p1/multi_party_call/n1: 500 Internal Server Error"},
		},
		"performed, then dropped: abort, then unhold": {
			faults:  []phlotest.Fault{{Action: "warm_transfer", Drop: true, Apply: true}},
			actions: []string{"hold", "warm_transfer", "abort_transfer", "unhold"},
			want:    []string{"the transfer may have started: abort transfer sip:alice@phone.plivo.com\nthe transfer failed: unhold +14155550100\n"},
		},
		"abort unknown too: stay on hold": {
			faults: []phlotest.Fault{{Action: "warm_transfer", Drop: true, Apply: true}, {Action: "abort_transfer", Drop: true}},
			// The abort is not idempotent: the SDK sends it once.
			actions: []string{"hold", "warm_transfer", "abort_transfer"},
			onHold:  true,
			want:    []string{"the transfer may be in progress and could not be aborted, so +14155550100 stays on hold: check the call"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := phlotest.Start(t)
			srv.AddMember("p1", "n1", "sip:alice@phone.plivo.com", phlo.RoleAgent)
			srv.AddMember("p1", "n1", "+14155550100", phlo.RoleCustomer)
			for _, f := range c.faults {
				srv.Inject(f)
			}
			cmd := exec.Command("go", "run", "./transfer")
			cmd.Env = append(env(), "PLIVO_AUTH_ID="+srv.AuthID, "PLIVO_AUTH_TOKEN="+srv.AuthToken, "PHLO_BASE_URL="+srv.URL,
				"PHLO_ID=p1", "PHLO_NODE_ID=n1", "PHLO_AGENT=sip:alice@phone.plivo.com", "PHLO_CUSTOMER=+14155550100",
				"PHLO_TRANSFER_TO=sip:bob@phone.plivo.com")
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "%s", out)
			for _, w := range c.want {
				assert.Contains(t, string(out), strings.ReplaceAll(w, "{URL}", srv.URL))
			}
			m, ok := srv.Member("p1", "n1", "+14155550100")
			require.True(t, ok)
			assert.Equal(t, c.onHold, m.OnHold, "the customer's hold")
			var actions []string
			for _, r := range srv.Requests() {
				actions = append(actions, r.Action)
			}
			assert.Equal(t, c.actions, actions)
			if !c.onHold {
				alice, _ := srv.Member("p1", "n1", "sip:alice@phone.plivo.com")
				assert.Empty(t, alice.TransferringTo, "a transfer is still in progress")
				_, bobIn := srv.Member("p1", "n1", "sip:bob@phone.plivo.com")
				assert.False(t, bobIn, "the aborted transfer's agent is still in the call")
			}
		})
	}
}

// TestExamplesNeedIDsWithCredentials: with credentials set, an example acts
// on a real call and says clearly which IDs are missing, before any request.
func TestExamplesNeedIDsWithCredentials(t *testing.T) {
	cmd := exec.Command("go", "run", "./hold")
	cmd.Env = append(env(), "PLIVO_AUTH_ID=MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN=token")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "set PHLO_ID, PHLO_NODE_ID, PHLO_MEMBER too")
	assert.NotContains(t, string(out), "token\n")
}

// TestExamplesShowTheConstructor: each program builds its client with
// phlo.NewRestClient itself, falls back to the fake on
// ErrMissingCredentials, and imports nothing a service could not, so that
// it can be copied as it stands.
func TestExamplesShowTheConstructor(t *testing.T) {
	for _, name := range []string{"hold", "transfer", "run"} {
		src, err := os.ReadFile(name + "/main.go")
		require.NoError(t, err)
		s := string(src)
		assert.Contains(t, s, `phlo.NewRestClient("", "",`, name)
		assert.Contains(t, s, `errors.Is(err, phlo.ErrMissingCredentials)`, name)
		assert.Contains(t, s, `phlotest.NewServer()`, name)
		assert.NotContains(t, s, "/internal/", name)
	}
}

// TestExamplesRefuseAHalfSetEnvironment: with only one credential set, or
// PHLO_BASE_URL without credentials, an example names what is missing and
// exits 1 rather than quietly acting on the fake (a typo must not pass for a
// test of the real runner). Even an invalid PHLO_BASE_URL is not ignored.
func TestExamplesRefuseAHalfSetEnvironment(t *testing.T) {
	cases := map[string]struct {
		env  []string
		want string
	}{
		"id only":    {[]string{"PLIVO_AUTH_ID=MAXXXXXXXXXXXXXXXXXX"}, "error: PLIVO_AUTH_ID is set but PLIVO_AUTH_TOKEN is not: set both to act on a real call, or neither to use the fake\n"},
		"token only": {[]string{"PLIVO_AUTH_TOKEN=s3cret-token"}, "error: PLIVO_AUTH_TOKEN is set but PLIVO_AUTH_ID is not: set both to act on a real call, or neither to use the fake\n"},
		"base URL only": {[]string{"PHLO_BASE_URL=not a url"},
			"error: PHLO_BASE_URL is set but PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN are not: set them to act on that runner, or unset PHLO_BASE_URL to use the fake\n"},
	}
	for _, name := range []string{"hold", "transfer", "run"} {
		for what, c := range cases {
			t.Run(name+"/"+what, func(t *testing.T) {
				t.Parallel()
				cmd := exec.Command("go", "run", "./"+name)
				cmd.Env = append(env(), c.env...)
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "%s", out)
				assert.Equal(t, 1, exit.ExitCode())
				assert.Contains(t, string(out), c.want)
				assert.NotContains(t, string(out), "acting on")
				assert.NotContains(t, string(out), "s3cret-token")
			})
		}
	}
}

// TestREADMEQuotesTheHoldExampleExactly: the output the README shows for
// `go run ./examples/hold` is the program's output, line for line, up to the
// port and the api_ids, which vary.
func TestREADMEQuotesTheHoldExampleExactly(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), "With nothing set it prints (the port and the `api_id`s vary):\n\n")
	require.True(t, ok, "the README no longer quotes the example's output")
	quoted, _, _ := strings.Cut(after, "\n\n")
	var want []string
	for _, line := range strings.Split(quoted, "\n") {
		want = append(want, strings.TrimPrefix(line, "    "))
	}

	cmd := exec.Command("go", "run", "./hold")
	cmd.Env = env()
	out, err := cmd.Output()
	require.NoError(t, err, "%s", out)
	vary := regexp.MustCompile(`127\.0\.0\.1:\d+|api_id=[0-9a-f-]{36}`)
	mask := func(s string) string {
		return vary.ReplaceAllStringFunc(s, func(m string) string { return m[:strings.IndexAny(m, ":=")+1] + "…" })
	}
	assert.Equal(t, mask(strings.Join(want, "\n")), mask(strings.TrimSuffix(string(out), "\n")))
}
