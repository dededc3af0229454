// Command phlo drives PHLO multi-party calls from the shell, and runs a fake
// PHLO runner that programs in any language can use for their tests.
//
//	phlo member hold|unhold|hangup|resume-call|voicemail-drop|abort-transfer --phlo ID --node ID ADDRESS
//	phlo call|warm-transfer|cold-transfer --phlo ID --node ID --trigger-source A --to B [--role R]
//	phlo run --phlo ID [key=value]...
//	phlo get phlo --phlo ID
//	phlo get node --phlo ID --node ID
//	phlo get run --phlo ID RUN_ID
//	phlo bridge mute|unmute|hangup --phlo ID --node ID ADDRESS
//	phlo get bridge --phlo ID --node ID
//	phlo serve [--addr 127.0.0.1:8089] [--member PHLO/NODE/ADDRESS[/ROLE]]... [--bridge-member PHLO/NODE/ADDRESS]... [--phlo ID[=NAME]]...
//	phlo version
//
// Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN; --base-url (or
// PHLO_BASE_URL) points the commands at another runner, such as
// "phlo serve". A result is printed as JSON on stdout; a failure is one line
// on stderr and exit status 1 (2 for a usage error). Every command takes
// --help, which prints its usage on stdout.
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
	"runtime"
	"slices"
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

// run is the whole program, with its world passed in so that tests can run
// it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv}
	err := c.dispatch(ctx, args)
	switch {
	case err == nil:
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

type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one entry of the command table: its name (one or two words),
// what it takes, and setup, which defines its own flags and returns what
// runs it. A non-nil result is printed as JSON.
type command struct {
	name    string
	args    string // the positional arguments, for the synopsis
	summary string
	nargs   [2]int // the least and the most positional arguments; -1: any
	// client commands take --base-url and --timeout, and need --phlo;
	// node ones need --node too.
	client, node bool
	setup        func(fs *flag.FlagSet, in *invocation) func(context.Context) (any, error)
}

// invocation is one run of a command: its shared flags and arguments.
type invocation struct {
	cli             *cli
	args            []string
	baseURL, phloID string
	nodeID          string
	timeout         time.Duration
}

var commands []command

// memberAction is a command that acts on one member of a node: it takes
// the member's address and no flags of its own.
type memberAction[M any] struct {
	name string
	act  func(M, context.Context) (*phlo.ActionResponse, error)
	what string
}

// memberCommands makes a command "group NAME ADDRESS" of each action, on the
// member that member finds from the client and the invocation.
func memberCommands[M any](group string, member func(*phlo.RestClient, *invocation) M, actions ...memberAction[M]) []command {
	var out []command
	for _, a := range actions {
		out = append(out, command{
			name: group + " " + a.name, args: "ADDRESS", summary: a.what, nargs: [2]int{1, 1}, client: true, node: true,
			setup: func(_ *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				return func(ctx context.Context) (any, error) {
					return in.call(func(c *phlo.RestClient) (any, error) { return a.act(member(c, in), ctx) })
				}
			},
		})
	}
	return out
}

func init() {
	commands = append(commands, memberCommands("member",
		func(c *phlo.RestClient, in *invocation) *phlo.Member {
			return c.Phlo(in.phloID).MultiPartyCall(in.nodeID).Member(in.args[0])
		},
		memberAction[*phlo.Member]{"hold", (*phlo.Member).Hold, "put the member on hold"},
		memberAction[*phlo.Member]{"unhold", (*phlo.Member).Unhold, "take the member off hold"},
		memberAction[*phlo.Member]{"hangup", (*phlo.Member).Hangup, "disconnect the member from the call"},
		memberAction[*phlo.Member]{"resume-call", (*phlo.Member).ResumeCall, "complete the warm transfer the member started"},
		memberAction[*phlo.Member]{"voicemail-drop", (*phlo.Member).VoicemailDrop, "drop the agent's voicemail to the member"},
		memberAction[*phlo.Member]{"abort-transfer", (*phlo.Member).AbortTransfer, "cancel the transfer the member started"},
	)...)
	callActions := []struct {
		name string
		act  func(*phlo.MultiPartyCall, context.Context, phlo.CallParams) (*phlo.ActionResponse, error)
		what string
	}{
		{"call", (*phlo.MultiPartyCall).Call, "dial --to and add them to the call"},
		{"warm-transfer", (*phlo.MultiPartyCall).WarmTransfer, "transfer the call from --trigger-source to --to, who talk first"},
		{"cold-transfer", (*phlo.MultiPartyCall).ColdTransfer, "connect the member to --to; --trigger-source drops out"},
	}
	for _, a := range callActions {
		commands = append(commands, command{
			name: a.name, summary: a.what, client: true, node: true,
			setup: func(fs *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				var p phlo.CallParams
				var role string
				fs.StringVar(&p.TriggerSource, "trigger-source", "", "number or SIP endpoint of the member who triggers it (required)")
				fs.StringVar(&p.To, "to", "", "number or SIP endpoint to dial (required)")
				fs.StringVar(&role, "role", "agent", "role of the member dialled: agent, customer or supervisor")
				return func(ctx context.Context) (any, error) {
					p.Role = phlo.Role(role)
					return in.call(func(c *phlo.RestClient) (any, error) {
						return a.act(c.Phlo(in.phloID).MultiPartyCall(in.nodeID), ctx, p)
					})
				}
			},
		})
	}
	commands = append(commands, memberCommands("bridge",
		func(c *phlo.RestClient, in *invocation) *phlo.BridgeMember {
			return c.Phlo(in.phloID).ConferenceBridge(in.nodeID).Member(in.args[0])
		},
		memberAction[*phlo.BridgeMember]{"mute", (*phlo.BridgeMember).Mute, "mute the conference bridge's member"},
		memberAction[*phlo.BridgeMember]{"unmute", (*phlo.BridgeMember).Unmute, "unmute the conference bridge's member"},
		memberAction[*phlo.BridgeMember]{"hangup", (*phlo.BridgeMember).Hangup, "disconnect the member from the conference bridge"},
	)...)
	commands = append(commands,
		command{
			name: "run", args: "[key=value]...", summary: "run the PHLO with a payload of string values", nargs: [2]int{0, -1}, client: true,
			setup: func(_ *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				return func(ctx context.Context) (any, error) {
					payload := make(map[string]any, len(in.args))
					for _, kv := range in.args {
						k, v, ok := strings.Cut(kv, "=")
						if !ok || k == "" {
							fmt.Fprintf(in.cli.stderr, "phlo run: %q is not key=value\n", kv)
							return nil, errUsage
						}
						payload[k] = v
					}
					return in.call(func(c *phlo.RestClient) (any, error) { return c.Phlo(in.phloID).Run(ctx, payload) })
				}
			},
		},
		command{
			name: "get phlo", summary: "print the PHLO's details", client: true,
			setup: func(_ *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				return func(ctx context.Context) (any, error) {
					return in.call(func(c *phlo.RestClient) (any, error) { return c.Phlo(in.phloID).Get(ctx) })
				}
			},
		},
		command{
			name: "get node", summary: "print the multi-party call node's details", client: true, node: true,
			setup: func(_ *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				return func(ctx context.Context) (any, error) {
					return in.call(func(c *phlo.RestClient) (any, error) { return c.Phlo(in.phloID).MultiPartyCall(in.nodeID).Get(ctx) })
				}
			},
		},
		command{
			name: "get bridge", summary: "print the conference bridge node's details", client: true, node: true,
			setup: func(_ *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				return func(ctx context.Context) (any, error) {
					return in.call(func(c *phlo.RestClient) (any, error) { return c.Phlo(in.phloID).ConferenceBridge(in.nodeID).Get(ctx) })
				}
			},
		},
		command{
			name: "get run", args: "RUN_ID", summary: "print a run of the PHLO, every field the runner sent", nargs: [2]int{1, 1}, client: true,
			setup: func(_ *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				return func(ctx context.Context) (any, error) {
					return in.call(func(c *phlo.RestClient) (any, error) {
						r, err := c.Phlo(in.phloID).GetRun(ctx, in.args[0])
						if err != nil {
							return nil, err
						}
						return r.Raw, nil
					})
				}
			},
		},
		command{
			name: "serve", summary: "run a fake PHLO runner until interrupted",
			setup: setupServe,
		},
		command{
			name: "version", summary: "print the version",
			setup: func(_ *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
				return func(context.Context) (any, error) {
					fmt.Fprintln(in.cli.stdout, versionLine())
					return nil, nil
				}
			},
		},
	)
}

func versionLine() string {
	return "phlo " + phlo.Version + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" || s == "help" }

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, c.usage(""))
		return errUsage
	}
	switch {
	case isHelp(args[0]):
		fmt.Fprint(c.stdout, c.usage(""))
		return nil
	case args[0] == "--version" || args[0] == "-version":
		fmt.Fprintln(c.stdout, versionLine())
		return nil
	}
	for _, cmd := range commands {
		words := strings.Fields(cmd.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c.runCommand(ctx, cmd, args[len(words):])
		}
	}
	if group := c.usage(args[0]); group != "" {
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprint(c.stdout, group)
			return nil
		}
		if len(args) == 1 {
			fmt.Fprintf(c.stderr, "phlo %s: which one?\n\n%s", args[0], group)
		} else {
			fmt.Fprintf(c.stderr, "phlo %s: unknown command %q\n\n%s", args[0], args[1], group)
		}
		return errUsage
	}
	fmt.Fprintf(c.stderr, "phlo: unknown command %q\n\n%s", args[0], c.usage(""))
	return errUsage
}

// usage lists the commands whose first word is group, or every command for
// "". It is empty for a group with no commands.
func (c *cli) usage(group string) string {
	var b strings.Builder
	for _, cmd := range commands {
		if group != "" && !strings.HasPrefix(cmd.name+" ", group+" ") {
			continue
		}
		fmt.Fprintf(&b, "  phlo %-22s %s\n", cmd.name, cmd.summary)
	}
	if b.Len() == 0 {
		return ""
	}
	head := "phlo drives PHLO multi-party calls, and runs a fake PHLO runner.\n\nUsage:\n"
	tail := `
Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN. Commands that call
the runner take --phlo, --base-url (default $PHLO_BASE_URL, else the Plivo
runner) and --timeout. Run "phlo COMMAND --help" for a command's flags.
`
	if group != "" {
		head, tail = "Usage:\n", "\nRun \"phlo "+group+" COMMAND --help\" for a command's flags.\n"
	}
	return head + b.String() + tail
}

// runCommand parses a command's flags, which may come before or after its
// positional arguments, checks them, and runs it.
func (c *cli) runCommand(ctx context.Context, cmd command, args []string) error {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	in := &invocation{cli: c}
	if cmd.client {
		fs.StringVar(&in.baseURL, "base-url", c.getenv(phlo.EnvBaseURL), "runner base URL (default $PHLO_BASE_URL, else "+phlo.DefaultBaseURL+")")
		fs.DurationVar(&in.timeout, "timeout", phlo.DefaultTimeout, "bound on the whole call, retries included")
		fs.StringVar(&in.phloID, "phlo", "", "PHLO ID (required)")
		if cmd.node {
			fs.StringVar(&in.nodeID, "node", "", "node ID (required)")
		}
	}
	runIt := cmd.setup(fs, in)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.commandHelp(cmd, fs)
				return nil
			}
			fmt.Fprintf(c.stderr, "phlo %s: %v\nRun \"phlo %s --help\" for usage.\n", cmd.name, err, cmd.name)
			return errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			in.args = append(in.args, args[1:]...)
			break
		}
		in.args = append(in.args, args[0])
		args = args[1:]
	}
	problem := ""
	switch n := len(in.args); {
	case n < cmd.nargs[0] || (cmd.nargs[1] >= 0 && n > cmd.nargs[1]):
		problem = "wrong number of arguments"
	case cmd.client && in.phloID == "":
		problem = "--phlo is required"
	case cmd.node && in.nodeID == "":
		problem = "--node is required"
	}
	if problem != "" {
		fmt.Fprintf(c.stderr, "phlo %s: %s\nRun \"phlo %s --help\" for usage.\n", cmd.name, problem, cmd.name)
		return errUsage
	}
	out, err := runIt(ctx)
	if err != nil || out == nil {
		return err
	}
	return c.print(out)
}

// commandHelp prints a command's usage and flags on stdout.
func (c *cli) commandHelp(cmd command, fs *flag.FlagSet) {
	synopsis := "phlo " + cmd.name
	if cmd.client {
		synopsis += " --phlo ID"
	}
	if cmd.node {
		synopsis += " --node ID"
	}
	synopsis += " [flags]"
	if cmd.args != "" {
		synopsis += " " + cmd.args
	}
	fmt.Fprintf(c.stdout, "Usage: %s\n\n%s.\n\nFlags:\n", synopsis, strings.ToUpper(cmd.summary[:1])+cmd.summary[1:])
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
}

// call builds the client from the environment and the flags, and calls f.
func (in *invocation) call(f func(*phlo.RestClient) (any, error)) (any, error) {
	opts := []phlo.Option{phlo.WithTimeout(in.timeout), phlo.WithUserAgent("phlo-cli/" + phlo.Version)}
	if in.baseURL != "" {
		opts = append(opts, phlo.WithBaseURL(in.baseURL))
	}
	client, err := phlo.NewRestClient(in.cli.getenv(phlo.EnvAuthID), in.cli.getenv(phlo.EnvAuthToken), opts...)
	if err != nil {
		return nil, err
	}
	return f(client)
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

// repeated collects a flag given more than once.
type repeated []string

// String shows the values given so far, for flag's help.
func (m *repeated) String() string { return strings.Join(*m, ",") }

// Set adds one value.
func (m *repeated) Set(v string) error { *m = append(*m, v); return nil }

func setupServe(fs *flag.FlagSet, in *invocation) func(context.Context) (any, error) {
	c := in.cli
	addr := fs.String("addr", "127.0.0.1:8089", "address to listen on; \":PORT\" or \"0.0.0.0:PORT\" listens beyond loopback, as a container must")
	authID := fs.String("auth-id", c.getenv(phlo.EnvAuthID), "auth ID to accept (default $PLIVO_AUTH_ID, else generated)")
	authToken := fs.String("auth-token", c.getenv(phlo.EnvAuthToken), "auth token to accept (default $PLIVO_AUTH_TOKEN, else generated)")
	var seed, bridgeSeed, phlos repeated
	fs.Var(&seed, "member", "put a member in a call, PHLO/NODE/ADDRESS[/ROLE]; may be repeated")
	fs.Var(&bridgeSeed, "bridge-member", "put a member in a conference bridge, PHLO/NODE/ADDRESS; may be repeated")
	fs.Var(&phlos, "phlo", "add a PHLO with no call, ID[=NAME], to run; may be repeated")
	return func(ctx context.Context) (any, error) {
		type member struct {
			phloID, nodeID, address string
			role                    phlo.Role
		}
		var parsed []member
		for _, s := range seed {
			parts := strings.Split(s, "/")
			if len(parts) < 3 || parts[0] == "" || parts[1] == "" {
				fmt.Fprintf(c.stderr, "phlo serve: --member %q is not PHLO/NODE/ADDRESS[/ROLE]\n", s)
				return nil, errUsage
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
				return nil, errUsage
			}
			parsed = append(parsed, m)
		}
		type bridgeMember struct{ phloID, nodeID, address string }
		var bridged []bridgeMember
		for _, s := range bridgeSeed {
			parts := strings.SplitN(s, "/", 3)
			if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
				fmt.Fprintf(c.stderr, "phlo serve: --bridge-member %q is not PHLO/NODE/ADDRESS\n", s)
				return nil, errUsage
			}
			bridged = append(bridged, bridgeMember{parts[0], parts[1], parts[2]})
		}
		for _, p := range phlos {
			if id, _, _ := strings.Cut(p, "="); id == "" {
				fmt.Fprintf(c.stderr, "phlo serve: --phlo %q has no ID\n", p)
				return nil, errUsage
			}
		}

		srv, err := phlotest.Listen(*addr, phlotest.WithCredentials(*authID, *authToken))
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		for _, p := range phlos {
			id, name, _ := strings.Cut(p, "=")
			if name == "" {
				name = "PHLO " + id
			}
			srv.AddPhlo(id, name)
		}
		for _, m := range parsed {
			srv.AddMember(m.phloID, m.nodeID, m.address, m.role)
		}
		for _, m := range bridged {
			srv.AddBridgeMember(m.phloID, m.nodeID, m.address)
		}
		if !srv.LoopbackOnly() {
			fmt.Fprintf(c.stderr, "phlo serve: warning: listening on %s, beyond loopback: anyone who reaches this host can use the fake runner. "+
				"Other containers reach it at http://HOST:PORT with phlo.WithInsecureHTTP().\n", *addr)
		}
		fmt.Fprintf(c.stdout, "fake PHLO runner listening on %s\n", srv.URL)
		fmt.Fprintf(c.stdout, "  export %s=%s\n", phlo.EnvBaseURL, srv.URL)
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
		for _, m := range bridged {
			fmt.Fprintf(c.stdout, "  member %s in the conference bridge %s/%s\n", m.address, m.phloID, m.nodeID)
		}
		<-ctx.Done()
		return nil, nil
	}
}
