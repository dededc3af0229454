// Command phlo drives PHLO multi-party calls from the shell, and runs a fake
// PHLO runner that programs in any language can use for their tests.
//
//	phlo member hold|unhold|hangup|resume-call|voicemail-drop|abort-transfer --phlo ID --node ID ADDRESS
//	phlo call|warm-transfer|cold-transfer --phlo ID --node ID --trigger-source A --to B [--role R]
//	phlo run --phlo ID [key=value | key:=JSON]...
//	phlo get phlo --phlo ID
//	phlo get node --phlo ID --node ID
//	phlo get run --phlo ID RUN_ID
//	phlo bridge mute|unmute|hangup --phlo ID --node ID ADDRESS
//	phlo get bridge --phlo ID --node ID
//	phlo serve [--addr 127.0.0.1:8089] [--seed FILE] [--quiet] [--member PHLO/NODE/ADDRESS[/ROLE]]... [--bridge-member PHLO/NODE/ADDRESS]... [--phlo ID[=NAME]]...
//	phlo version
//
// Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN; --base-url (or
// PHLO_BASE_URL) points the commands at another runner, such as
// "phlo serve", and --insecure-http allows plain HTTP to one on another
// host. A result is printed as JSON on stdout; a failure is one line on
// stderr, naming the flag or environment variable at fault, and exit
// status 2 when the command line or the environment is wrong (nothing was
// sent), 1 when sending failed or the runner refused. Every command takes --help, which prints
// its usage on stdout.
//
// Each command is one row of the table in commands.go, as cmd/go's are:
// its usage line, its flags and a named run function; the help text is
// made from the table.
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
	"regexp"
	"slices"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf16"
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
	if errors.As(err, new(badInput)) {
		return 2
	}
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

// cli is the program's world: where it writes and what it reads.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" || s == "help" }

// dispatch finds the command args name in the table and runs it; a group's
// name alone ("phlo get") or a name not in the table prints the usage.
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
		return c.runCommand(ctx, cmdVersion, nil)
	}
	for _, cmd := range commands {
		words := strings.Fields(cmd.name())
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
		if group != "" && !strings.HasPrefix(cmd.name()+" ", group+" ") {
			continue
		}
		fmt.Fprintf(&b, "  phlo %-22s %s\n", cmd.name(), cmd.short)
	}
	if b.Len() == 0 {
		return ""
	}
	head := "phlo drives PHLO multi-party calls, and runs a fake PHLO runner.\n\nUsage:\n"
	tail := `
Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN. Commands that call
the runner take --phlo, --base-url (default $PHLO_BASE_URL, else the Plivo
runner), --insecure-http and --timeout. Run "phlo COMMAND --help" for a
command's flags.
`
	if group != "" {
		head, tail = "Usage:\n", "\nRun \"phlo "+group+" COMMAND --help\" for a command's flags.\n"
	}
	return head + b.String() + tail
}

// runCommand parses a command's flags, which may come before or after its
// positional arguments, checks them, runs the command and prints its result.
func (c *cli) runCommand(ctx context.Context, cmd *command, args []string) error {
	in := newInvocation(c, cmd)
	for {
		if err := in.flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.commandHelp(in)
				return nil
			}
			return in.usageError("%s", doubleDash(err.Error()))
		}
		args = in.flags.Args()
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
	if err := in.check(); err != nil {
		return err
	}
	out, err := in.start(ctx)
	if err != nil || out == nil {
		return err
	}
	return c.print(out)
}

// flagName matches the flag names in the flag package's messages, which
// spell them with one dash.
var flagName = regexp.MustCompile(`(: |flag |for )-([[:alpha:]])`)

// doubleDash spells the flags in a message of the flag package as this
// command's help does, "--timeout".
func doubleDash(msg string) string {
	return flagName.ReplaceAllString(msg, "$1--$2")
}

// commandHelp prints a command's usage and flags on stdout.
func (c *cli) commandHelp(in *invocation) {
	cmd := in.cmd
	fmt.Fprintf(c.stdout, "Usage: phlo %s\n\n%s.\n", cmd.usage, strings.ToUpper(cmd.short[:1])+cmd.short[1:])
	if cmd.long != "" {
		fmt.Fprintf(c.stdout, "\n%s\n", cmd.long)
	}
	first := true
	in.flags.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(c.stdout, "\nFlags:\n")
			first = false
		}
		kind, usage := flag.UnquoteUsage(f)
		if f.DefValue != "" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(c.stdout, "  --%s\n    \t%s\n", strings.TrimSpace(f.Name+" "+kind), usage)
	})
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
