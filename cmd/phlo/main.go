// Command phlo drives PHLO multi-party calls from the shell, and runs a fake
// PHLO runner that programs in any language can use for their tests.
//
//	phlo serve [--addr 127.0.0.1:8089] [--member PHLO/NODE/ADDRESS[/ROLE]]... [--phlo ID[=NAME]]...
//	phlo member hold|unhold|hangup|resume-call|voicemail-drop|abort-transfer --phlo ID --node ID ADDRESS
//	phlo call|warm-transfer|cold-transfer --phlo ID --node ID --trigger-source A --to B [--role R]
//	phlo run --phlo ID [key=value]...
//	phlo run get --phlo ID RUN_ID
//	phlo get phlo --phlo ID
//	phlo get node --phlo ID --node ID
//
// Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN; --base-url (or
// PHLO_BASE_URL) points the commands at another runner, such as
// "phlo serve". A result is printed as JSON on stdout; a failure is one line
// on stderr and exit status 1 (2 for a usage error).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// errUsage marks a usage error, already explained on stderr.
var errUsage = errors.New("usage")

const usage = `phlo drives PHLO multi-party calls, and runs a fake PHLO runner.

Usage:
  phlo serve [--addr 127.0.0.1:8089] [--member PHLO/NODE/ADDRESS[/ROLE]]... [--phlo ID[=NAME]]...
  phlo member ACTION --phlo ID --node ID ADDRESS
        ACTION: hold, unhold, hangup, resume-call, voicemail-drop, abort-transfer
  phlo call|warm-transfer|cold-transfer --phlo ID --node ID --trigger-source A --to B [--role R]
  phlo run --phlo ID [key=value]...
  phlo run get --phlo ID RUN_ID
  phlo get phlo --phlo ID
  phlo get node --phlo ID --node ID

Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN. Every command but
serve takes --base-url (default $PHLO_BASE_URL, else the Plivo runner) and
--timeout. Run "phlo COMMAND --help" for a command's flags.
`

// run is the whole program, with its world passed in so that tests can run
// it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	err := dispatch(ctx, args, stdout, stderr, getenv)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	msg := oneLine(err.Error())
	if !strings.HasPrefix(msg, "phlo: ") { // the SDK's errors name themselves
		msg = "phlo: " + msg
	}
	fmt.Fprintln(stderr, msg)
	return 1
}

// oneLine folds s into one line that a terminal shows as text: control and
// format characters (escape sequences, bidirectional overrides), which may
// have come from a server, become spaces.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}), " ")
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	env := &cli{stdout: stdout, stderr: stderr, getenv: getenv}
	switch cmd {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve":
		return env.serve(ctx, rest)
	case "member":
		return env.member(ctx, rest)
	case "call", "warm-transfer", "cold-transfer":
		return env.callAction(ctx, cmd, rest)
	case "run":
		if len(rest) > 0 && rest[0] == "get" {
			return env.runGet(ctx, rest[1:])
		}
		return env.run(ctx, rest)
	case "get":
		if len(rest) == 0 {
			return env.usageError("get needs phlo or node")
		}
		switch rest[0] {
		case "phlo":
			return env.getPhlo(ctx, rest[1:])
		case "node":
			return env.getNode(ctx, rest[1:])
		}
		return env.usageError("get needs phlo or node, not %q", rest[0])
	}
	return env.usageError("unknown command %q", cmd)
}

type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func (c *cli) usageError(format string, args ...any) error {
	fmt.Fprintf(c.stderr, "phlo: "+format+"\n\n", args...)
	fmt.Fprint(c.stderr, usage)
	return errUsage
}

// command is one subcommand's flags, with the client flags they share.
type command struct {
	cli     *cli
	fs      *flag.FlagSet
	baseURL string
	timeout time.Duration
	phloID  string
	nodeID  string
}

func (c *cli) newCommand(name, synopsis string, client, node bool) *command {
	cmd := &command{cli: c, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	cmd.fs.SetOutput(c.stderr)
	cmd.fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: %s\n\nFlags:\n", synopsis)
		cmd.fs.PrintDefaults()
	}
	if client {
		cmd.fs.StringVar(&cmd.baseURL, "base-url", c.getenv("PHLO_BASE_URL"), "runner base URL (default $PHLO_BASE_URL, else "+phlo.DefaultBaseURL+")")
		cmd.fs.DurationVar(&cmd.timeout, "timeout", phlo.DefaultTimeout, "bound on the whole call, retries included")
		cmd.fs.StringVar(&cmd.phloID, "phlo", "", "PHLO ID (required)")
		if node {
			cmd.fs.StringVar(&cmd.nodeID, "node", "", "multi-party call node ID (required)")
		}
	}
	return cmd
}

// parse parses flags that may come before or after the positional
// arguments, and checks how many positional arguments there are.
func (cmd *command) parse(args []string, minArgs, maxArgs int) ([]string, error) {
	var positional []string
	for {
		if err := cmd.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = cmd.fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) < minArgs || (maxArgs >= 0 && len(positional) > maxArgs) {
		fmt.Fprintf(cmd.cli.stderr, "phlo %s: wrong number of arguments\n", cmd.fs.Name())
		cmd.fs.Usage()
		return nil, errUsage
	}
	return positional, nil
}

// client builds the SDK client from the environment and the flags.
func (cmd *command) client() (*phlo.RestClient, error) {
	if cmd.phloID == "" {
		fmt.Fprintf(cmd.cli.stderr, "phlo %s: --phlo is required\n", cmd.fs.Name())
		return nil, errUsage
	}
	if cmd.fs.Lookup("node") != nil && cmd.nodeID == "" {
		fmt.Fprintf(cmd.cli.stderr, "phlo %s: --node is required\n", cmd.fs.Name())
		return nil, errUsage
	}
	opts := []phlo.Option{phlo.WithTimeout(cmd.timeout), phlo.WithUserAgent("phlo-cli/" + phlo.Version)}
	if cmd.baseURL != "" {
		opts = append(opts, phlo.WithBaseURL(cmd.baseURL))
	}
	return phlo.NewRestClient(cmd.cli.getenv(phlo.EnvAuthID), cmd.cli.getenv(phlo.EnvAuthToken), opts...)
}

// call builds the client, runs f with it, and prints f's result as JSON.
func (cmd *command) call(f func(*phlo.RestClient) (any, error)) error {
	client, err := cmd.client()
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	v, err := f(client)
	if err != nil {
		return err
	}
	return cmd.cli.print(v)
}

// print writes v as indented JSON. encoding/json escapes the C0 controls;
// print escapes the rest that a terminal would act on (DEL, the C1 controls
// such as U+009B, and format characters such as U+202E), which can only
// stand inside JSON strings, where \uXXXX means the same.
func (c *cli) print(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range string(data) {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			if r1, r2 := utf16.EncodeRune(r); r1 != unicode.ReplacementChar {
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('\n')
	_, err = io.WriteString(c.stdout, b.String())
	return err
}

var memberActions = map[string]func(*phlo.Member, context.Context) (*phlo.ActionResponse, error){
	"hold":           (*phlo.Member).Hold,
	"unhold":         (*phlo.Member).Unhold,
	"hangup":         (*phlo.Member).Hangup,
	"resume-call":    (*phlo.Member).ResumeCall,
	"voicemail-drop": (*phlo.Member).VoicemailDrop,
	"abort-transfer": (*phlo.Member).AbortTransfer,
}

func (c *cli) member(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) == 0 {
			return c.usageError("member needs an action")
		}
		fmt.Fprint(c.stdout, "Usage: phlo member hold|unhold|hangup|resume-call|voicemail-drop|abort-transfer --phlo ID --node ID ADDRESS\n")
		return nil
	}
	name := args[0]
	act, ok := memberActions[name]
	if !ok {
		return c.usageError("unknown member action %q", name)
	}
	cmd := c.newCommand("member "+name, "phlo member "+name+" --phlo ID --node ID ADDRESS", true, true)
	pos, err := cmd.parse(args[1:], 1, 1)
	if err != nil {
		return err
	}
	return cmd.call(func(client *phlo.RestClient) (any, error) {
		return act(client.Phlo(cmd.phloID).MultiPartyCall(cmd.nodeID).Member(pos[0]), ctx)
	})
}

func (c *cli) callAction(ctx context.Context, name string, args []string) error {
	cmd := c.newCommand(name, "phlo "+name+" --phlo ID --node ID --trigger-source A --to B [--role R]", true, true)
	var p phlo.CallParams
	var role string
	cmd.fs.StringVar(&p.TriggerSource, "trigger-source", "", "number or SIP endpoint of the member who triggers it (required)")
	cmd.fs.StringVar(&p.To, "to", "", "number or SIP endpoint to dial (required)")
	cmd.fs.StringVar(&role, "role", "agent", "role of the member dialled: agent, customer or supervisor")
	if _, err := cmd.parse(args, 0, 0); err != nil {
		return err
	}
	p.Role = phlo.Role(role)
	act := callActions[name]
	return cmd.call(func(client *phlo.RestClient) (any, error) {
		return act(client.Phlo(cmd.phloID).MultiPartyCall(cmd.nodeID), ctx, p)
	})
}

var callActions = map[string]func(*phlo.MultiPartyCall, context.Context, phlo.CallParams) (*phlo.ActionResponse, error){
	"call":          (*phlo.MultiPartyCall).Call,
	"warm-transfer": (*phlo.MultiPartyCall).WarmTransfer,
	"cold-transfer": (*phlo.MultiPartyCall).ColdTransfer,
}

func (c *cli) run(ctx context.Context, args []string) error {
	cmd := c.newCommand("run", "phlo run --phlo ID [key=value]...", true, false)
	pos, err := cmd.parse(args, 0, -1)
	if err != nil {
		return err
	}
	payload := make(map[string]any, len(pos))
	for _, kv := range pos {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			fmt.Fprintf(c.stderr, "phlo run: %q is not key=value\n", kv)
			return errUsage
		}
		payload[k] = v
	}
	return cmd.call(func(client *phlo.RestClient) (any, error) {
		return client.Phlo(cmd.phloID).Run(ctx, payload)
	})
}

func (c *cli) runGet(ctx context.Context, args []string) error {
	cmd := c.newCommand("run get", "phlo run get --phlo ID RUN_ID", true, false)
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return cmd.call(func(client *phlo.RestClient) (any, error) {
		r, err := client.Phlo(cmd.phloID).GetRun(ctx, pos[0])
		if err != nil {
			return nil, err
		}
		// The raw reply holds every field the runner sent, known or not.
		return r.Raw, nil
	})
}

func (c *cli) getPhlo(ctx context.Context, args []string) error {
	cmd := c.newCommand("get phlo", "phlo get phlo --phlo ID", true, false)
	if _, err := cmd.parse(args, 0, 0); err != nil {
		return err
	}
	return cmd.call(func(client *phlo.RestClient) (any, error) {
		return client.Phlo(cmd.phloID).Get(ctx)
	})
}

func (c *cli) getNode(ctx context.Context, args []string) error {
	cmd := c.newCommand("get node", "phlo get node --phlo ID --node ID", true, true)
	if _, err := cmd.parse(args, 0, 0); err != nil {
		return err
	}
	return cmd.call(func(client *phlo.RestClient) (any, error) {
		return client.Phlo(cmd.phloID).MultiPartyCall(cmd.nodeID).Get(ctx)
	})
}

// members collects repeated --member flags.
type members []string

// String shows the members given so far, for flag's help.
func (m *members) String() string { return strings.Join(*m, ",") }

// Set adds one --member.
func (m *members) Set(v string) error { *m = append(*m, v); return nil }

func (c *cli) serve(ctx context.Context, args []string) error {
	cmd := c.newCommand("serve", "phlo serve [--addr 127.0.0.1:8089] [--member PHLO/NODE/ADDRESS[/ROLE]]... [--phlo ID[=NAME]]...", false, false)
	addr := cmd.fs.String("addr", "127.0.0.1:8089", "address to listen on")
	authID := cmd.fs.String("auth-id", c.getenv(phlo.EnvAuthID), "auth ID to accept (default $PLIVO_AUTH_ID, else generated)")
	authToken := cmd.fs.String("auth-token", c.getenv(phlo.EnvAuthToken), "auth token to accept (default $PLIVO_AUTH_TOKEN, else generated)")
	var seed, phlos members
	cmd.fs.Var(&seed, "member", "put a member in a call, PHLO/NODE/ADDRESS[/ROLE]; repeatable")
	cmd.fs.Var(&phlos, "phlo", "add a PHLO with no call, ID[=NAME], to run; repeatable")
	if _, err := cmd.parse(args, 0, 0); err != nil {
		return err
	}
	type member struct {
		phloID, nodeID, address string
		role                    phlo.Role
	}
	var parsed []member
	for _, s := range seed {
		parts := strings.Split(s, "/")
		if len(parts) < 3 || parts[0] == "" || parts[1] == "" {
			fmt.Fprintf(c.stderr, "phlo serve: --member %q is not PHLO/NODE/ADDRESS[/ROLE]\n", s)
			return errUsage
		}
		m := member{phloID: parts[0], nodeID: parts[1], role: phlo.RoleAgent}
		rest := parts[2:]
		if len(rest) > 1 {
			switch r := phlo.Role(rest[len(rest)-1]); r {
			case phlo.RoleAgent, phlo.RoleCustomer, phlo.RoleSupervisor:
				m.role, rest = r, rest[:len(rest)-1]
			}
		}
		m.address = strings.Join(rest, "/")
		if m.address == "" {
			fmt.Fprintf(c.stderr, "phlo serve: --member %q has no address\n", s)
			return errUsage
		}
		parsed = append(parsed, m)
	}

	srv, err := phlotest.Listen(*addr, phlotest.WithCredentials(*authID, *authToken))
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, p := range phlos {
		id, name, _ := strings.Cut(p, "=")
		if id == "" {
			fmt.Fprintf(c.stderr, "phlo serve: --phlo %q has no ID\n", p)
			return errUsage
		}
		if name == "" {
			name = "PHLO " + id
		}
		srv.AddPhlo(id, name)
	}
	for _, m := range parsed {
		srv.AddMember(m.phloID, m.nodeID, m.address, m.role)
	}
	fmt.Fprintf(c.stdout, "fake PHLO runner listening on %s\n", srv.URL)
	fmt.Fprintf(c.stdout, "  export PHLO_BASE_URL=%s\n", srv.URL)
	if *authID == "" {
		fmt.Fprintf(c.stdout, "  export %s=%s\n", phlo.EnvAuthID, srv.AuthID)
	}
	if *authToken == "" {
		// Only credentials this fake made up are printed; given ones never are.
		fmt.Fprintf(c.stdout, "  export %s=%s\n", phlo.EnvAuthToken, srv.AuthToken)
	}
	for _, p := range phlos {
		fmt.Fprintf(c.stdout, "  PHLO %s\n", p)
	}
	for _, m := range parsed {
		fmt.Fprintf(c.stdout, "  member %s in %s/%s as %s\n", m.address, m.phloID, m.nodeID, m.role)
	}
	<-ctx.Done()
	return nil
}
