package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/phlogo/phlo/phlotest"
)

// startState is the fake's start state, the one a reset returns to: the
// --seed file's, with what --phlo, --member and --bridge-member add. Each
// part the flags made is remembered with its flag, so that a problem the
// fake finds in it names that flag rather than the file.
type startState struct {
	phlotest.State
	file    string            // the --seed file, or ""
	origins map[string]string // a path as the fake's errors give it → the flag that made it
}

// readSeed reads a start state in the shape of GET /__phlo/state. Its error
// says where in the file the problem is.
func readSeed(name string) (phlotest.State, error) {
	var st phlotest.State
	data, err := os.ReadFile(name)
	if err != nil {
		return st, errors.Unwrap(err) // the path is named by the caller
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return st, jsonProblem(data, err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return st, fmt.Errorf("line %s: more than one JSON value", lineOf(data, int64(len(data)-len(rest))))
	}
	if problem := fieldProblem("", v, reflect.TypeFor[phlotest.State]()); problem != "" {
		return st, errors.New(problem)
	}
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	return st, strict.Decode(&st)
}

// jsonProblem says where a file is not JSON.
func jsonProblem(data []byte, err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("holds no JSON value")
	case errors.As(err, &syntax):
		return fmt.Errorf("line %s: %v", lineOf(data, syntax.Offset-1), err) // Offset is past the byte at fault
	}
	return err
}

// lineOf gives the line and column of the byte at offset, "3, column 7".
func lineOf(data []byte, offset int64) string {
	before := data[:min(int(offset), len(data))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("%d, column %d", line, col)
}

var rawJSON = reflect.TypeFor[json.RawMessage]()

// fieldProblem finds the first part of v, a decoded JSON value, that has no
// place in a value of type t, and says where it is as the fake's own errors
// do, "phlos[0].multi_party_calls[1].members[2].rol: unknown field".
// encoding/json names neither the path of an unknown field nor the index
// of a misplaced value.
func fieldProblem(path string, v any, t reflect.Type) string {
	want := ""
	switch {
	case v == nil || t == rawJSON:
		return ""
	case t.Kind() == reflect.Struct:
		obj, ok := v.(map[string]any)
		if ok {
			return objectProblem(path, obj, t)
		}
		want = "an object"
	case t.Kind() == reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			want = "an array"
			break
		}
		for i, e := range arr {
			if p := fieldProblem(fmt.Sprintf("%s[%d]", path, i), e, t.Elem()); p != "" {
				return p
			}
		}
		return ""
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); ok {
			return ""
		}
		want = "true or false"
	default: // string, the only other kind a State holds
		if _, ok := v.(string); ok {
			return ""
		}
		want = "a string"
	}
	return fmt.Sprintf("%s: want %s", cmp.Or(path, "the file"), want)
}

// objectProblem is fieldProblem for a JSON object and a struct type, its
// keys taken in order so that the problem reported is always the same.
func objectProblem(path string, obj map[string]any, t reflect.Type) string {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = f.Type
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		at := k
		if path != "" {
			at = path + "." + k
		}
		ft, ok := fields[k]
		if !ok {
			return at + ": unknown field"
		}
		if p := fieldProblem(at, obj[k], ft); p != "" {
			return p
		}
	}
	return ""
}

// put returns the index of the element of *s whose key is want, appending
// one with that key if there is none, and whether it did.
func put[T any](s *[]T, key func(*T) *string, want string) (i int, added bool) {
	if i = slices.IndexFunc(*s, func(e T) bool { return *key(&e) == want }); i >= 0 {
		return i, false
	}
	var fresh T
	*key(&fresh) = want
	*s = append(*s, fresh)
	return len(*s) - 1, true
}

// phlo returns the PHLO with the ID, added for origin if absent, and its
// path.
func (st *startState) phlo(id, origin string) (*phlotest.PhloState, string) {
	i, added := put(&st.Phlos, func(p *phlotest.PhloState) *string { return &p.PhloID }, id)
	at := fmt.Sprintf("phlos[%d]", i)
	if added {
		st.origins[at] = origin
	}
	return &st.Phlos[i], at
}

// addMember puts m in its call, as phlotest's AddMember does: a member
// already there takes the role and comes off hold.
func (st *startState) addMember(m seedMember) {
	p, at := st.phlo(m.phloID, m.origin)
	s := placeMember(st, m, &p.MultiPartyCalls, at+".multi_party_calls",
		func(n *phlotest.CallState) (*string, *[]phlotest.MemberState) { return &n.NodeID, &n.Members },
		func(s *phlotest.MemberState) *string { return &s.Address })
	s.Role, s.OnHold = m.role, false
}

// addBridgeMember puts m in its conference bridge, as phlotest's
// AddBridgeMember does: a member already there is unmuted.
func (st *startState) addBridgeMember(m seedMember) {
	p, at := st.phlo(m.phloID, m.origin)
	s := placeMember(st, m, &p.ConferenceBridges, at+".conference_bridges",
		func(n *phlotest.BridgeState) (*string, *[]phlotest.BridgeMemberState) { return &n.NodeID, &n.Members },
		func(s *phlotest.BridgeMemberState) *string { return &s.Address })
	s.Muted = false
}

// placeMember finds m's node in nodes, a node list of either kind at path
// at, adding it for m's flag if absent, and in it m's member, which is then
// m's flag's: it returns the member for the caller to set as its kind wants.
func placeMember[N, M any](st *startState, m seedMember, nodes *[]N, at string,
	node func(*N) (*string, *[]M), address func(*M) *string) *M {
	j, added := put(nodes, func(n *N) *string { id, _ := node(n); return id }, m.nodeID)
	at = fmt.Sprintf("%s[%d]", at, j)
	if added {
		st.origins[at] = m.origin
	}
	_, members := node(&(*nodes)[j])
	k, _ := put(members, address, m.address)
	st.origins[fmt.Sprintf("%s.members[%d]", at, k)] = m.origin
	return &(*members)[k]
}

// source names what made the part of the state at path, a field path as
// the fake's errors give it: the flag that made the part that holds it,
// else the file.
func (st *startState) source(path string) string {
	best, origin := "", ""
	for p, o := range st.origins {
		inside := path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[")
		if inside && len(p) > len(best) {
			best, origin = p, o
		}
	}
	switch {
	case origin != "":
		return origin
	case st.file != "":
		return "--seed " + st.file
	}
	return "--phlo, --member and --bridge-member"
}
