package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// composeService is what the README's compose file says of one service.
type composeService struct {
	name    string
	command []string
	env     map[string]string
}

// fencedBlock matches a fenced code block of README.md: its language and
// its text.
var fencedBlock = regexp.MustCompile("(?ms)^```(\\w+)\n(.*?)^```")

// readRecipe returns the README's container recipe: the services of its
// compose file and the Go snippet that follows it.
func readRecipe(t *testing.T) (services []*composeService, snippet string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	inRecipe := false
	for _, m := range fencedBlock.FindAllStringSubmatch(string(readme), -1) {
		lang, text := m[1], m[2]
		switch {
		case lang == "yaml" && strings.Contains(text, "PHLO_BASE_URL"):
			services, inRecipe = parseCompose(t, text), true
		case lang == "go" && inRecipe:
			return services, text
		}
	}
	t.Fatal("README.md has no compose file that sets PHLO_BASE_URL followed by a Go snippet")
	return nil, ""
}

// parseCompose reads the subset of YAML the README's compose file is
// written in: services, each with a command and an environment, as a block
// mapping, a flow mapping or a list of KEY=value; other keys are skipped.
func parseCompose(t *testing.T, yaml string) []*composeService {
	t.Helper()
	var services []*composeService
	var cur *composeService
	inEnv := false
	for _, line := range strings.Split(yaml, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		key, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		value = strings.TrimSpace(value)
		switch {
		case strings.TrimSpace(line) == "" || indent == 0:
		case indent == 2:
			cur = &composeService{name: key, env: map[string]string{}}
			services = append(services, cur)
		case indent == 4 && key == "command":
			cur.command = parseCommand(t, value)
		case indent == 4:
			inEnv = key == "environment"
			for _, kv := range strings.Split(strings.Trim(value, "{}"), ",") {
				if k, v, ok := strings.Cut(kv, ":"); ok && inEnv {
					cur.env[strings.TrimSpace(k)] = unquote(v)
				}
			}
		case inEnv && strings.HasPrefix(key, "- "): // a list: "- KEY=value"
			k, v, _ := strings.Cut(unquote(strings.TrimSpace(line)[2:]), "=")
			cur.env[k] = v
		case inEnv:
			cur.env[key] = unquote(value)
		}
	}
	return services
}

// parseCommand reads a compose command, a string or a flow sequence.
func parseCommand(t *testing.T, value string) []string {
	if !strings.HasPrefix(value, "[") {
		return strings.Fields(value)
	}
	var args []string
	require.NoError(t, json.Unmarshal([]byte(value), &args), "command %s", value)
	return args
}

func unquote(s string) string { return strings.Trim(strings.TrimSpace(s), `"'`) }

// TestContainerRecipeWorksAsWritten builds the README's Go snippet as it
// stands there and runs it with the environment the compose file gives the
// service, against a fake seeded by the compose file's "phlo serve"
// command. The service's name resolves, as on compose's network, through
// the test network: a host that is not loopback, reached on loopback.
func TestContainerRecipeWorksAsWritten(t *testing.T) {
	services, snippet := readRecipe(t)
	var fake, app *composeService
	for _, s := range services {
		if i := indexOf(s.command, "serve"); i >= 0 {
			fake = s
			s.command = s.command[i+1:]
		}
		if s.env["PHLO_BASE_URL"] != "" {
			app = s
		}
	}
	require.NotNil(t, fake, "a service runs phlo serve")
	require.NotNil(t, app, "a service is given PHLO_BASE_URL")

	in := invocationOf(t, cmdServe, fake.env, fake.command...)
	base, err := url.Parse(app.env["PHLO_BASE_URL"])
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(in.opt.serve.addr)
	require.NoError(t, err)
	require.Equal(t, net.JoinHostPort(fake.name, port), base.Host, "the service is pointed at the fake's name and port")
	in.opt.serve.addr = "127.0.0.1:0"
	srv, seeded, err := in.newServer()
	require.NoError(t, err)
	defer srv.Close()
	require.NotEmpty(t, seeded.members, "the fake is given a member to hold")
	network.route(t, base.Host, srv.URL)

	bin := buildSnippet(t, snippet)
	m := seeded.members[0]
	for k, v := range app.env {
		t.Setenv(k, v)
	}
	out, err := exec.Command(bin, m.phloID, m.nodeID, m.address).CombinedOutput()
	require.NoError(t, err, "%s", out)
	state, ok := srv.Member(m.phloID, m.nodeID, m.address)
	require.True(t, ok)
	assert.True(t, state.OnHold, "the hold reached the fake")
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "hold", reqs[0].Action)

	// What the recipe sets beyond the base URL and the credentials is what
	// lets plain HTTP through: without it, the SDK refuses and sends nothing.
	for k := range app.env {
		if k != "PHLO_BASE_URL" && k != "PLIVO_AUTH_ID" && k != "PLIVO_AUTH_TOKEN" {
			t.Setenv(k, "")
		}
	}
	out, err = exec.Command(bin, m.phloID, m.nodeID, m.address).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "must use https unless the host is loopback")
	assert.Len(t, srv.Requests(), 1)
}

func indexOf(args []string, s string) int {
	for i, a := range args {
		if a == s {
			return i
		}
	}
	return -1
}

// snippetProgram makes a program of the README's snippet: it holds the
// member its arguments name, with the client the snippet builds.
const snippetProgram = `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/phlogo/phlo"
)

// newClient is the README's snippet.
func newClient() (*phlo.RestClient, error) {
%s
	return client, err
}

func main() {
	client, err := newClient()
	if err == nil {
		_, err = client.Phlo(os.Args[1]).MultiPartyCall(os.Args[2]).Member(os.Args[3]).Hold(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// buildSnippet builds the snippet's program in a module of its own that
// uses this repository's SDK, offline, and returns the binary.
func buildSnippet(t *testing.T, snippet string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the README's snippet")
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	files := map[string]string{
		"go.mod":  fmt.Sprintf("module recipe\n\ngo 1.25\n\nrequire github.com/phlogo/phlo v0.0.0\n\nreplace github.com/phlogo/phlo => %s\n", root),
		"go.sum":  string(sum),
		"main.go": fmt.Sprintf(snippetProgram, snippet),
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	bin := filepath.Join(dir, "recipe")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the README's snippet:\n%s", out)
	return bin
}

// TestREADMECommandLineExamples runs the shell sessions of the README's
// command-line section, "$ VAR=value phlo ARGS..." followed by what it
// prints, with credentials in the environment, and checks the output.
func TestREADMECommandLineExamples(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	section := string(readme)
	start := strings.Index(section, "\n## Command-line tool")
	require.GreaterOrEqual(t, start, 0)
	section = section[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	sessions := regexp.MustCompile(`(?m)^    \$ (.*)\n((?:    [^$\n].*\n)*)`).FindAllStringSubmatch(section, -1)
	require.NotEmpty(t, sessions)
	for _, s := range sessions {
		env := map[string]string{"PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "token"}
		words := strings.Fields(s[1])
		for len(words) > 0 && strings.Contains(words[0], "=") {
			k, v, _ := strings.Cut(words[0], "=")
			env[k], words = v, words[1:]
		}
		require.Equal(t, "phlo", words[0], s[1])
		_, out, errOut := phloCmd(env, words[1:]...)
		want := regexp.MustCompile(`(?m)^    `).ReplaceAllString(s[2], "")
		assert.Equal(t, want, out+errOut, s[1])
	}
}

// TestParseComposeForms: the compose file may be written in any of the
// forms compose takes for a command and an environment, with keys the
// recipe does not need.
func TestParseComposeForms(t *testing.T) {
	got := parseCompose(t, `services:
  phlo:
    image: x
    command: ["phlo", "serve", "--addr", ":8089"]
    environment:
      - PLIVO_AUTH_ID=MA1
      - "PLIVO_AUTH_TOKEN=tok"
    healthcheck:
      test: ["CMD", "wget", "-q", "http://localhost:8089/__phlo/health"]
  app:
    depends_on:
      phlo: {condition: service_healthy}
    environment: {A: b, C: "d"}
`)
	assert.Equal(t, []*composeService{
		{name: "phlo", command: []string{"phlo", "serve", "--addr", ":8089"}, env: map[string]string{"PLIVO_AUTH_ID": "MA1", "PLIVO_AUTH_TOKEN": "tok"}},
		{name: "app", env: map[string]string{"A": "b", "C": "d"}},
	}, got)
}
