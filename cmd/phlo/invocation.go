package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/phlogo/phlo"
)

// invocation is one run of a command: its flags, its arguments and, for a
// command that calls a runner, the client.
type invocation struct {
	cli     *cli
	cmd     *command
	flags   *flag.FlagSet
	args    []string
	opt     options
	payload map[string]any // run's, from its arguments
	client  *phlo.RestClient
}

// options holds the values of every command's flags.
type options struct {
	phloID, nodeID string
	baseURL        string
	insecureHTTP   bool
	timeout        timeoutFlag
	call           phlo.CallParams
	serve          serveOptions
}

// newInvocation starts a run of cmd, with its flags defined.
func newInvocation(c *cli, cmd *command) *invocation {
	in := &invocation{cli: c, cmd: cmd, flags: flag.NewFlagSet(cmd.name(), flag.ContinueOnError)}
	in.flags.SetOutput(io.Discard)
	in.flags.Usage = func() {}
	in.defineFlags()
	return in
}

// usageError explains a usage error on stderr, with where to read more.
func (in *invocation) usageError(format string, args ...any) error {
	name := in.cmd.name()
	fmt.Fprintf(in.cli.stderr, "phlo %s: %s\nRun \"phlo %s --help\" for usage.\n", name, fmt.Sprintf(format, args...), name)
	return errUsage
}

// check refuses, before anything is sent, arguments the command cannot take.
func (in *invocation) check() error {
	cmd := in.cmd
	switch n := len(in.args); {
	case n < cmd.nargs[0] || (cmd.nargs[1] >= 0 && n > cmd.nargs[1]):
		return in.argCountError()
	case cmd.target >= onPhlo && in.opt.phloID == "":
		return in.usageError("--phlo is required")
	case cmd.target == onNode && in.opt.nodeID == "":
		return in.usageError("--node is required")
	}
	if cmd.parse != nil {
		return cmd.parse(in)
	}
	return nil
}

// argCountError says which positional arguments the command wants, as its
// usage names them after "[flags]", and what it got. Only commands that take
// none or one can be given the wrong number.
func (in *invocation) argCountError() error {
	got := "none"
	if len(in.args) > 0 {
		got = fmt.Sprintf("%d: %q", len(in.args), in.args)
	}
	if in.cmd.nargs == none {
		return in.usageError("want no arguments, got %s", got)
	}
	_, operand, _ := strings.Cut(in.cmd.usage, "[flags]")
	return in.usageError("want one %s, got %s", strings.TrimSpace(operand), got)
}

// badInput is a flag value, argument or environment variable refused
// before anything was sent; it exits 2, as a usage error does, so that a
// script can tell "fix the command" from "the call failed".
type badInput struct{ error }

// start runs the command; one that calls a runner gets its client first,
// and its bound, and its failures in the user's terms.
func (in *invocation) start(ctx context.Context) (any, error) {
	if in.cmd.target == local {
		return in.cmd.run(ctx, in)
	}
	client, err := in.newClient()
	if err != nil {
		return nil, in.explain(err)
	}
	in.client = client
	if d := time.Duration(in.opt.timeout); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, timeoutRanOut(d))
		defer cancel()
	}
	out, err := in.cmd.run(ctx, in)
	return out, in.explain(err)
}

func (in *invocation) phloHandle() *phlo.Phlo { return in.client.Phlo(in.opt.phloID) }

func (in *invocation) call() *phlo.MultiPartyCall {
	return in.phloHandle().MultiPartyCall(in.opt.nodeID)
}

func (in *invocation) member() *phlo.Member { return in.call().Member(in.args[0]) }

func (in *invocation) bridge() *phlo.ConferenceBridge {
	return in.phloHandle().ConferenceBridge(in.opt.nodeID)
}

func (in *invocation) bridgeMember() *phlo.BridgeMember { return in.bridge().Member(in.args[0]) }

// newClient builds the client from the environment and the flags. The
// command's --timeout bounds the call through the context, whose cause
// names the flag, so the client has no bound of its own.
func (in *invocation) newClient() (*phlo.RestClient, error) {
	getenv := in.cli.getenv
	for _, name := range []string{phlo.EnvAuthID, phlo.EnvAuthToken} {
		if getenv(name) == "" {
			return nil, badInput{fmt.Errorf("$%s is not set: export the credentials of your Plivo account, or those phlo serve printed", name)}
		}
	}
	baseURL, _ := in.baseURL()
	opts := []phlo.Option{phlo.WithBaseURL(baseURL), phlo.WithTimeout(0), phlo.WithUserAgent("phlo-cli/" + phlo.Version)}
	if in.opt.insecureHTTP {
		opts = append(opts, phlo.WithInsecureHTTP())
	}
	return phlo.NewRestClient(getenv(phlo.EnvAuthID), getenv(phlo.EnvAuthToken), opts...)
}

// baseURL returns the runner's base URL and, for messages, where the user
// set it.
func (in *invocation) baseURL() (rawURL, source string) {
	given := false
	in.flags.Visit(func(f *flag.Flag) { given = given || f.Name == "base-url" })
	if given {
		return in.opt.baseURL, "--base-url"
	}
	if u := in.cli.getenv(phlo.EnvBaseURL); u != "" {
		return u, "$" + phlo.EnvBaseURL
	}
	return phlo.DefaultBaseURL, "the default base URL"
}

// argumentTerms names, for each argument of the SDK that a command can get
// wrong, what the user set: a flag, an environment variable or a
// positional argument. The SDK names them as its Go API spells them,
// which means nothing in a shell. Its base URL is named by baseURL.
var argumentTerms = map[string]string{
	"authID":          "$" + phlo.EnvAuthID,
	"authToken":       "$" + phlo.EnvAuthToken,
	"phloID":          "--phlo",
	"nodeID":          "--node",
	"address":         "ADDRESS",
	"runID":           "RUN_ID",
	"payload key":     "the key of a key=value argument",
	"TriggerSource":   "--trigger-source",
	"To":              "--to",
	"CallParams.Role": "--role",
}

// explain restates an argument the SDK refused in the user's terms, as
// [badInput]: the SDK refuses bad input before sending anything. Any other
// error it returns as it is.
func (in *invocation) explain(err error) error {
	var argErr *phlo.ArgumentError
	if !errors.As(err, &argErr) {
		return err
	}
	term, reason := argumentTerms[argErr.Name], argErr.Reason
	if argErr.Name == "WithBaseURL" {
		var rawURL string
		rawURL, term = in.baseURL()
		if r := baseURLReason(rawURL, in.opt.insecureHTTP); r != "" {
			reason = r
		}
	}
	if term == "" {
		return badInput{err}
	}
	return badInput{fmt.Errorf("phlo: %s %s", term, reason)}
}

// baseURLReason says in the command's terms why the SDK refused rawURL
// when the fix is a scheme or --insecure-http, or returns "". It proposes
// a fix only when the SDK takes the fixed URL, so a URL is never echoed
// unless it is one the SDK takes, which never carries credentials.
func baseURLReason(rawURL string, insecureHTTP bool) string {
	u, err := url.Parse(rawURL)
	switch {
	case (err != nil || u.Host == "") && accepted("http://"+rawURL, true):
		if accepted("http://"+rawURL, insecureHTTP) {
			return "has no scheme: write http://" + rawURL
		}
		return "has no scheme: write https://" + rawURL + ", or http://" + rawURL +
			" with --insecure-http for a fake runner on another host, such as phlo serve in another container"
	case err == nil && u.Scheme == "http" && !insecureHTTP && accepted(rawURL, true):
		return "must use https unless the host is loopback, since basic auth would cross the network in clear; " +
			"for a fake runner on another host, such as phlo serve in another container, add --insecure-http"
	}
	return ""
}

// accepted reports whether the SDK takes rawURL as a base URL. Building a
// client sends nothing.
func accepted(rawURL string, insecureHTTP bool) bool {
	opts := []phlo.Option{phlo.WithBaseURL(rawURL)}
	if insecureHTTP {
		opts = append(opts, phlo.WithInsecureHTTP())
	}
	_, err := phlo.NewRestClient("MAXXXXXXXXXXXXXXXXXX", "token", opts...)
	return err == nil
}

// timeoutFlag is --timeout, whose errors say how to write a duration.
type timeoutFlag time.Duration

func (t *timeoutFlag) String() string { return time.Duration(*t).String() }

func (t *timeoutFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("want a duration with a unit, such as 5s")
	case d < 0:
		return errors.New("must not be negative; 0 means no bound")
	}
	*t = timeoutFlag(d)
	return nil
}

// timeoutRanOut is the cause of a call's context when --timeout ends it;
// the SDK's error carries its text.
type timeoutRanOut time.Duration

func (d timeoutRanOut) Error() string {
	return "--timeout " + time.Duration(d).String() + " ran out"
}
