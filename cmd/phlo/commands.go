package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"unicode"

	"github.com/phlogo/phlo"
)

// A command is one row of the command table, as cmd/go's base.Command is:
// its usage line, a one-line summary, its flags and a named run function.
// The help text of the program, of each group and of each command is made
// from the table.
type command struct {
	// usage is the synopsis after "phlo ". Its leading lower-case words are
	// the command's name: "get run --phlo ID [flags] RUN_ID" is "get run".
	usage string
	// short is the summary the lists show; long, when set, follows it in
	// the command's own help.
	short, long string
	// nargs bounds the positional arguments: the least and the most, -1
	// for no limit.
	nargs [2]int
	// target is what the command acts on, which decides the flags it
	// shares with other commands.
	target target
	// flags defines the command's own flags, or is nil.
	flags func(in *invocation)
	// parse checks the positional arguments beyond their number before
	// anything is sent, or is nil.
	parse func(in *invocation) error
	// run does the work; a non-nil result is printed as JSON.
	run func(ctx context.Context, in *invocation) (any, error)
}

// target is what a command acts on.
type target int

const (
	// local commands act on nothing on a runner.
	local target = iota
	// onPhlo commands call a runner about a PHLO: they take --phlo,
	// --base-url, --insecure-http and --timeout.
	onPhlo
	// onNode commands act on a node of a PHLO, and take --node as well.
	onNode
)

// name is the command's name, the leading lower-case words of its usage.
func (c *command) name() string {
	words := strings.Fields(c.usage)
	n := 0
	for n < len(words) && unicode.IsLower(rune(words[n][0])) {
		n++
	}
	return strings.Join(words[:n], " ")
}

// The usual bounds of nargs.
var (
	one  = [2]int{1, 1}
	none = [2]int{0, 0}
)

// commands is the command table, in the order the help lists it.
var commands = []*command{
	{usage: "member hold --phlo ID --node ID [flags] ADDRESS", short: "put the member on hold", nargs: one, target: onNode, run: runHold},
	{usage: "member unhold --phlo ID --node ID [flags] ADDRESS", short: "take the member off hold", nargs: one, target: onNode, run: runUnhold},
	{usage: "member hangup --phlo ID --node ID [flags] ADDRESS", short: "disconnect the member from the call", nargs: one, target: onNode, run: runHangup},
	{usage: "member resume-call --phlo ID --node ID [flags] ADDRESS", short: "complete the warm transfer the member started", nargs: one, target: onNode, run: runResumeCall},
	{usage: "member voicemail-drop --phlo ID --node ID [flags] ADDRESS", short: "drop the agent's voicemail to the member", nargs: one, target: onNode, run: runVoicemailDrop},
	{usage: "member abort-transfer --phlo ID --node ID [flags] ADDRESS", short: "cancel the transfer the member started", nargs: one, target: onNode, run: runAbortTransfer},
	{usage: "call --phlo ID --node ID --trigger-source A --to B [--role R] [flags]", short: "dial --to and add them to the call", nargs: none, target: onNode, flags: callFlags, run: runCall},
	{usage: "warm-transfer --phlo ID --node ID --trigger-source A --to B [--role R] [flags]", short: "transfer the call from --trigger-source to --to, who talk first", nargs: none, target: onNode, flags: callFlags, run: runWarmTransfer},
	{usage: "cold-transfer --phlo ID --node ID --trigger-source A --to B [--role R] [flags]", short: "connect the member to --to; --trigger-source drops out", nargs: none, target: onNode, flags: callFlags, run: runColdTransfer},
	{usage: "bridge mute --phlo ID --node ID [flags] ADDRESS", short: "mute the conference bridge's member", nargs: one, target: onNode, run: runMute},
	{usage: "bridge unmute --phlo ID --node ID [flags] ADDRESS", short: "unmute the conference bridge's member", nargs: one, target: onNode, run: runUnmute},
	{usage: "bridge hangup --phlo ID --node ID [flags] ADDRESS", short: "disconnect the member from the conference bridge", nargs: one, target: onNode, run: runBridgeHangup},
	{usage: "run --phlo ID [flags] [key=value | key:=JSON]...", short: "run the PHLO with a payload", long: runLong, nargs: [2]int{0, -1}, target: onPhlo, parse: parsePayload, run: runRun},
	{usage: "get phlo --phlo ID [flags]", short: "print the PHLO's details", nargs: none, target: onPhlo, run: runGetPhlo},
	{usage: "get node --phlo ID --node ID [flags]", short: "print the multi-party call node's details", nargs: none, target: onNode, run: runGetNode},
	{usage: "get bridge --phlo ID --node ID [flags]", short: "print the conference bridge node's details", nargs: none, target: onNode, run: runGetBridge},
	{usage: "get run --phlo ID [flags] RUN_ID", short: "print a run of the PHLO, every field the runner sent", nargs: one, target: onPhlo, run: runGetRun},
	cmdServe,
	cmdVersion,
}

var cmdVersion = &command{usage: "version", short: "print the version", nargs: none, run: runVersion}

func runHold(ctx context.Context, in *invocation) (any, error)   { return in.member().Hold(ctx) }
func runUnhold(ctx context.Context, in *invocation) (any, error) { return in.member().Unhold(ctx) }
func runHangup(ctx context.Context, in *invocation) (any, error) { return in.member().Hangup(ctx) }

func runResumeCall(ctx context.Context, in *invocation) (any, error) {
	return in.member().ResumeCall(ctx)
}

func runVoicemailDrop(ctx context.Context, in *invocation) (any, error) {
	return in.member().VoicemailDrop(ctx)
}

func runAbortTransfer(ctx context.Context, in *invocation) (any, error) {
	return in.member().AbortTransfer(ctx)
}

// callFlags defines the flags of the actions that dial someone.
func callFlags(in *invocation) {
	fs, p := in.flags, &in.opt.call
	fs.StringVar(&p.TriggerSource, "trigger-source", "", "the `ADDRESS` of the member who triggers it, a number or SIP endpoint (required)")
	fs.StringVar(&p.To, "to", "", "the `ADDRESS` to dial, a number or SIP endpoint (required)")
	fs.StringVar((*string)(&p.Role), "role", string(phlo.RoleAgent), "the `ROLE` of the member dialled: agent, customer or supervisor")
}

func runCall(ctx context.Context, in *invocation) (any, error) {
	return in.call().Call(ctx, in.opt.call)
}

func runWarmTransfer(ctx context.Context, in *invocation) (any, error) {
	return in.call().WarmTransfer(ctx, in.opt.call)
}

func runColdTransfer(ctx context.Context, in *invocation) (any, error) {
	return in.call().ColdTransfer(ctx, in.opt.call)
}

func runMute(ctx context.Context, in *invocation) (any, error) {
	return in.bridgeMember().Mute(ctx)
}

func runUnmute(ctx context.Context, in *invocation) (any, error) {
	return in.bridgeMember().Unmute(ctx)
}

func runBridgeHangup(ctx context.Context, in *invocation) (any, error) {
	return in.bridgeMember().Hangup(ctx)
}

const runLong = `Each argument is one field of the payload, in httpie's grammar:
key=value sends the value as a JSON string, and key:=JSON sends JSON as it
is, so that "count:=5 vip:=true tags:='["a"]'" sends a number, a boolean
and an array. A key given twice takes its last value.`

// parsePayload reads run's arguments into the payload: key=value is a
// string, key:=JSON a raw JSON value.
func parsePayload(in *invocation) error {
	in.payload = make(map[string]any, len(in.args))
	for _, arg := range in.args {
		key, value, ok := strings.Cut(arg, "=")
		raw := strings.HasSuffix(key, ":")
		key = strings.TrimSuffix(key, ":")
		switch {
		case !ok || key == "":
			return in.usageError("%q is not key=value or key:=JSON", arg)
		case !raw:
			in.payload[key] = value
		case !json.Valid([]byte(value)):
			return in.usageError("%q is not key:=JSON: %q is not JSON (for a string, write %s=%s)", arg, value, key, value)
		default:
			in.payload[key] = json.RawMessage(value)
		}
	}
	return nil
}

func runRun(ctx context.Context, in *invocation) (any, error) {
	return in.phloHandle().Run(ctx, in.payload)
}

func runGetPhlo(ctx context.Context, in *invocation) (any, error) {
	return in.phloHandle().Get(ctx)
}

func runGetNode(ctx context.Context, in *invocation) (any, error) {
	return in.call().Get(ctx)
}

func runGetBridge(ctx context.Context, in *invocation) (any, error) {
	return in.bridge().Get(ctx)
}

// runGetRun prints every field the runner sent, not only those the SDK
// knows.
func runGetRun(ctx context.Context, in *invocation) (any, error) {
	r, err := in.phloHandle().GetRun(ctx, in.args[0])
	if err != nil {
		return nil, err
	}
	return r.Raw, nil
}

func runVersion(_ context.Context, in *invocation) (any, error) {
	fmt.Fprintln(in.cli.stdout, "phlo "+phlo.Version+" ("+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")")
	return nil, nil
}

// defineFlags adds the flags the command's target calls for, then its own.
func (in *invocation) defineFlags() {
	fs, o := in.flags, &in.opt
	if in.cmd.target >= onPhlo {
		fs.StringVar(&o.phloID, "phlo", "", "the PHLO's `ID` (required)")
		fs.StringVar(&o.baseURL, "base-url", "", "the runner's base `URL` (default $"+phlo.EnvBaseURL+", else "+phlo.DefaultBaseURL+")")
		fs.BoolVar(&o.insecureHTTP, "insecure-http", false, "allow plain http:// to a host that is not loopback, such as phlo serve in another container; never for the real runner")
		o.timeout = timeoutFlag(phlo.DefaultTimeout)
		fs.Var(&o.timeout, "timeout", "bound on the whole call, retries included: a `DURATION` such as 5s, or 0 for none")
	}
	if in.cmd.target == onNode {
		fs.StringVar(&o.nodeID, "node", "", "the node's `ID` (required)")
	}
	if in.cmd.flags != nil {
		in.cmd.flags(in)
	}
}
