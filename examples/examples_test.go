package examples_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
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
			"using the in-process fake PHLO runner at http://127.0.0.1:",
			"member +14155550100: in the call=true role=customer on_hold=false",
			"hold +14155550100: api_id=",
			"member +14155550100: in the call=true role=customer on_hold=true",
			"unhold +14155550100: api_id=",
		},
		"transfer": {
			"warm transfer sip:alice@phone.plivo.com -> sip:bob@phone.plivo.com: api_id=",
			"member sip:alice@phone.plivo.com: in the call=true role=agent transferring_to=sip:bob@phone.plivo.com",
			"member sip:alice@phone.plivo.com: in the call=true role=agent transferring_to=\n",
			"resume call sip:alice@phone.plivo.com: api_id=",
		},
		"run": {
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
