package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

var cmdServe = &command{
	usage: "serve [flags]",
	short: "run a fake PHLO runner until interrupted",
	long: `It prints the PHLO_BASE_URL, PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN to export;
credentials given by flag or environment are never printed. It writes one
line per runner request on stderr, unless --quiet.

--seed FILE starts it from a state in the shape of GET /__phlo/state, such
as a file a test suite saved from a running fake; --phlo, --member and
--bridge-member add to it. POST /__phlo/reset returns to that start state.`,
	nargs: none,
	flags: serveFlags,
	run:   runServe,
}

// serveOptions are serve's flags.
type serveOptions struct {
	addr, authID, authToken      string
	members, bridgeMembers, phlo repeated
	seed                         string
	quiet                        bool
}

// repeated collects a flag given more than once.
type repeated []string

// String shows the values given so far, for flag's help.
func (m *repeated) String() string { return strings.Join(*m, ",") }

// Set adds one value.
func (m *repeated) Set(v string) error { *m = append(*m, v); return nil }

func serveFlags(in *invocation) {
	fs, o := in.flags, &in.opt.serve
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8089", "the `ADDRESS` to listen on; \":PORT\" or \"0.0.0.0:PORT\" listens beyond loopback, as a container must")
	// The environment is read after parsing, not as the flags' defaults,
	// which the help would print.
	fs.StringVar(&o.authID, "auth-id", "", "the auth `ID` to accept (default $"+phlo.EnvAuthID+", else generated)")
	fs.StringVar(&o.authToken, "auth-token", "", "the auth `TOKEN` to accept (default $"+phlo.EnvAuthToken+", else generated)")
	fs.Var(&o.members, "member", "put a member in a call, `PHLO/NODE/ADDRESS[/ROLE]`, the role agent (the default), customer or supervisor; may be repeated")
	fs.Var(&o.bridgeMembers, "bridge-member", "put a member in a conference bridge, `PHLO/NODE/ADDRESS`; may be repeated")
	fs.Var(&o.phlo, "phlo", "add a PHLO with no call, `ID[=NAME]`, to run; may be repeated")
	fs.StringVar(&o.seed, "seed", "", "start from the state in `FILE`, in the shape of GET /__phlo/state")
	fs.BoolVar(&o.quiet, "quiet", false, "write no line per request on stderr")
}

// seeds is what serve's flags put in the fake before it serves.
type seeds struct {
	phlos         [][2]string // ID, name
	members       []seedMember
	bridgeMembers []seedMember
}

// seedMember is a member that --member or --bridge-member adds.
type seedMember struct {
	phloID, nodeID, address string
	role                    phlo.Role
	origin                  string // the flag as given, for messages
}

// parseSeeds reads serve's --phlo, --member and --bridge-member, refusing
// any it cannot take as a usage error naming the flag.
func (in *invocation) parseSeeds() (*seeds, error) {
	o, s := &in.opt.serve, &seeds{}
	for _, p := range o.phlo {
		id, name, _ := strings.Cut(p, "=")
		if id == "" {
			return nil, in.usageError("--phlo %q has no ID", p)
		}
		if name == "" {
			name = "PHLO " + id
		}
		s.phlos = append(s.phlos, [2]string{id, name})
	}
	for _, v := range o.members {
		m, problem := parseMember("--member", v, 4)
		if problem != "" {
			return nil, in.usageError("%s", problem)
		}
		s.members = append(s.members, m)
	}
	for _, v := range o.bridgeMembers {
		m, problem := parseMember("--bridge-member", v, 3)
		if problem != "" {
			return nil, in.usageError("%s", problem)
		}
		s.bridgeMembers = append(s.bridgeMembers, m)
	}
	return s, nil
}

// parseMember reads PHLO/NODE/ADDRESS, and /ROLE after it when maxParts is
// 4, or says what is wrong with it. An address cannot contain "/", so that
// a mistyped role is never taken as part of the address.
func parseMember(flagName, v string, maxParts int) (seedMember, string) {
	form := "PHLO/NODE/ADDRESS"
	if maxParts == 4 {
		form += "[/ROLE]"
	}
	parts := strings.Split(v, "/")
	switch {
	case len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "":
		return seedMember{}, fmt.Sprintf("%s %q is not %s", flagName, v, form)
	case len(parts) > maxParts:
		return seedMember{}, fmt.Sprintf("%s %q has too many parts for %s: an address cannot contain \"/\"", flagName, v, form)
	}
	m := seedMember{phloID: parts[0], nodeID: parts[1], address: parts[2], origin: fmt.Sprintf("%s %q", flagName, v)}
	if maxParts == 4 {
		m.role = phlo.RoleAgent
	}
	if len(parts) == 4 {
		switch r := phlo.Role(parts[3]); r {
		case phlo.RoleAgent, phlo.RoleCustomer, phlo.RoleSupervisor:
			m.role = r
		default:
			return seedMember{}, fmt.Sprintf("%s %q: unknown role %q: the role is agent, customer or supervisor", flagName, v, parts[3])
		}
	}
	return m, ""
}

// runServe runs the fake runner until the context ends: a signal, for the
// program.
func runServe(ctx context.Context, in *invocation) (any, error) {
	srv, s, err := in.newServer()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	in.announce(srv, s)
	<-ctx.Done()
	return nil, nil
}

// newServer starts the fake runner that serve's flags describe.
func (in *invocation) newServer() (*phlotest.Server, *seeds, error) {
	o := &in.opt.serve
	o.authID = cmp.Or(o.authID, in.cli.getenv(phlo.EnvAuthID))
	o.authToken = cmp.Or(o.authToken, in.cli.getenv(phlo.EnvAuthToken))
	s, err := in.parseSeeds()
	if err != nil {
		return nil, nil, err
	}
	st, err := in.startState(s)
	if err != nil {
		return nil, nil, err
	}
	opts := []phlotest.Option{phlotest.WithCredentials(o.authID, o.authToken), phlotest.WithState(st.State)}
	if !o.quiet {
		opts = append(opts, phlotest.WithRequestLog(hideAuthID(in.cli.stderr, o.authID)))
	}
	srv, err := phlotest.Listen(o.addr, opts...)
	if err != nil {
		return nil, nil, in.serveError(err, st)
	}
	return srv, s, nil
}

// hideAuthID returns w, with a given auth ID in a run's path written
// "{auth_id}", as the SDK's own logs write it: the command never prints a
// credential it was given. The fake writes each line in one Write.
func hideAuthID(w io.Writer, authID string) io.Writer {
	if authID == "" {
		return w // generated, and printed already
	}
	var pairs []string
	for _, id := range []string{authID, url.PathEscape(authID)} {
		pairs = append(pairs, "/account/"+id+"/", "/account/{auth_id}/", "/account/"+id+" ", "/account/{auth_id} ")
	}
	return replacingWriter{w, strings.NewReplacer(pairs...)}
}

// replacingWriter writes through a replacer.
type replacingWriter struct {
	w io.Writer
	r *strings.Replacer
}

func (rw replacingWriter) Write(p []byte) (int, error) {
	if _, err := rw.r.WriteString(rw.w, string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// startState reads --seed and adds what the other flags seed.
func (in *invocation) startState(s *seeds) (*startState, error) {
	st := &startState{file: in.opt.serve.seed, origins: map[string]string{}}
	if st.file != "" {
		var err error
		if st.State, err = readSeed(st.file); err != nil {
			return nil, in.usageError("--seed %s: %v", st.file, err)
		}
	}
	for i, p := range s.phlos {
		origin := fmt.Sprintf("--phlo %q", in.opt.serve.phlo[i])
		ps, at := st.phlo(p[0], origin)
		ps.Name = p[1]
		st.origins[at+".name"] = origin
	}
	for _, m := range s.members {
		st.addMember(m)
	}
	for _, m := range s.bridgeMembers {
		st.addBridgeMember(m)
	}
	return st, nil
}

// serveError says what the fake refused: credentials, the start state
// (as a usage error naming the flag or file that made the part at fault),
// or the address.
func (in *invocation) serveError(err error, st *startState) error {
	var argErr *phlo.ArgumentError
	var netErr *net.OpError
	switch {
	case errors.As(err, &argErr):
		name, env := "--auth-id", phlo.EnvAuthID
		if argErr.Name == "authToken" {
			name, env = "--auth-token", phlo.EnvAuthToken
		}
		return fmt.Errorf("%s (or $%s) %s", name, env, argErr.Reason)
	case errors.As(err, &netErr):
		return fmt.Errorf("--addr: %w", err)
	}
	for errors.Unwrap(err) != nil { // the fake's own "path: problem"
		err = errors.Unwrap(err)
	}
	path, _, _ := strings.Cut(err.Error(), ":")
	return in.usageError("%s: %v", st.source(path), err)
}

// announce says where the fake listens, the environment that points the
// commands and the SDK at it, and what it holds. Only credentials the fake
// made up are printed; given ones never are.
func (in *invocation) announce(srv *phlotest.Server, s *seeds) {
	o, stdout := &in.opt.serve, in.cli.stdout
	if !srv.LoopbackOnly() {
		port := "PORT"
		if u, err := url.Parse(srv.URL); err == nil {
			port = u.Port()
		}
		fmt.Fprintf(in.cli.stderr, "phlo serve: warning: listening on %s, beyond loopback: anyone who reaches this host can use the fake runner. "+
			"Other hosts reach it at http://HOST:%s with plain HTTP allowed: the phlo command's --insecure-http, "+
			"or the setting of the README's container recipe for a service.\n", o.addr, port)
	}
	fmt.Fprintf(stdout, "fake PHLO runner listening on %s\n", srv.URL)
	fmt.Fprintf(stdout, "  export %s=%s\n", phlo.EnvBaseURL, srv.URL)
	if o.authID == "" {
		fmt.Fprintf(stdout, "  export %s=%s\n", phlo.EnvAuthID, srv.AuthID)
	}
	if o.authToken == "" {
		fmt.Fprintf(stdout, "  export %s=%s\n", phlo.EnvAuthToken, srv.AuthToken)
	}
	for _, p := range o.phlo {
		fmt.Fprintf(stdout, "  PHLO %s\n", p)
	}
	for _, m := range s.members {
		fmt.Fprintf(stdout, "  member %s in %s/%s as %s\n", m.address, m.phloID, m.nodeID, m.role)
	}
	for _, m := range s.bridgeMembers {
		fmt.Fprintf(stdout, "  member %s in the conference bridge %s/%s\n", m.address, m.phloID, m.nodeID)
	}
}
