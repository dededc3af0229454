package phlo_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/phlogo/phlo"
)

// handleTypes are the client and every handle it makes. Each exported
// method of each, including those added later, is called on a nil pointer
// and on a zero value.
var handleTypes = []reflect.Type{
	reflect.TypeFor[*phlo.RestClient](),
	reflect.TypeFor[*phlo.Phlo](),
	reflect.TypeFor[*phlo.MultiPartyCall](),
	reflect.TypeFor[*phlo.Member](),
	reflect.TypeFor[*phlo.ConferenceBridge](),
	reflect.TypeFor[*phlo.BridgeMember](),
}

// TestNoMethodPanicsOnNilOrZero: no exported method of the client or of a
// handle panics on a nil or zero receiver, nor on the handles it returns
// from one; each method that returns an error returns one that matches
// ErrInvalidArgument, and nothing else.
func TestNoMethodPanicsOnNilOrZero(t *testing.T) {
	t.Parallel()
	for _, typ := range handleTypes {
		receivers := map[string]reflect.Value{
			"nil":  reflect.Zero(typ),
			"zero": reflect.New(typ.Elem()),
		}
		for kind, recv := range receivers {
			t.Run(typ.Elem().Name()+"/"+kind, func(t *testing.T) {
				t.Parallel()
				n := exerciseMethods(t, typ.Elem().Name(), recv, 3)
				if n == 0 {
					t.Fatalf("%v has no exported method", typ)
				}
			})
		}
	}
}

// exerciseMethods calls every exported method of recv and, up to depth
// levels down, of each handle a method returns. It returns the number of
// methods called.
func exerciseMethods(t *testing.T, name string, recv reflect.Value, depth int) int {
	t.Helper()
	called := 0
	for i := range recv.NumMethod() {
		m := recv.Type().Method(i)
		call := name + "." + m.Name
		args := methodArgs(t, call, recv.Method(i).Type())
		var results []reflect.Value
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panicked: %v", call, r)
				}
			}()
			results = recv.Method(i).Call(args)
		}()
		called++
		if results == nil {
			continue
		}
		if errIndex := errorResult(recv.Method(i).Type()); errIndex >= 0 {
			checkFailed(t, call, results, errIndex)
			continue
		}
		for _, res := range results {
			called += checkResult(t, call, res, depth)
		}
	}
	return called
}

// checkFailed checks the results of a call that returns an error: the
// error matches ErrInvalidArgument, and every other result is zero.
func checkFailed(t *testing.T, call string, results []reflect.Value, errIndex int) {
	t.Helper()
	err, _ := results[errIndex].Interface().(error)
	switch {
	case err == nil:
		t.Errorf("%s returned no error", call)
	case !errors.Is(err, phlo.ErrInvalidArgument):
		t.Errorf("%s: %v does not match ErrInvalidArgument", call, err)
	}
	for i, res := range results {
		if i != errIndex && !res.IsZero() {
			t.Errorf("%s returned %v with its error", call, res)
		}
	}
}

var errorType = reflect.TypeFor[error]()

// errorResult is the index of the error result of a method of type mt, or
// -1.
func errorResult(mt reflect.Type) int {
	for i := range mt.NumOut() {
		if mt.Out(i) == errorType {
			return i
		}
	}
	return -1
}

// checkResult checks one result of a call that returns no error: a
// returned handle is never nil, and has its own methods called.
func checkResult(t *testing.T, call string, res reflect.Value, depth int) int {
	t.Helper()
	for _, typ := range handleTypes {
		if res.Type() == typ && depth > 0 {
			if res.IsNil() {
				t.Errorf("%s returned a nil handle", call)
				return 0
			}
			return exerciseMethods(t, call+"()", res, depth-1)
		}
	}
	return 0
}

// methodArgs returns arguments for a method of type mt: a live context, a
// working fmt.State, and the zero value of every other type. An interface
// type it does not know fails the test, so that a method added with one
// is given a real argument rather than a nil that would hide a panic on
// the receiver.
func methodArgs(t *testing.T, call string, mt reflect.Type) []reflect.Value {
	t.Helper()
	args := make([]reflect.Value, mt.NumIn())
	for i := range args {
		in := mt.In(i)
		switch {
		case in == reflect.TypeFor[context.Context]():
			args[i] = reflect.ValueOf(context.Background())
		case in == reflect.TypeFor[fmt.State]():
			args[i] = reflect.ValueOf(&fakeState{})
		case in.Kind() == reflect.Interface && in != reflect.TypeFor[any]():
			t.Fatalf("%s takes a %v: add an argument for it to methodArgs", call, in)
		case in == reflect.TypeFor[phlo.Request]():
			args[i] = reflect.ValueOf(phlo.Request{Method: "GET", Path: []string{"phlo", "p"}})
		default:
			args[i] = reflect.Zero(in)
		}
	}
	return args
}

// fakeState is a fmt.State that writes to a buffer.
type fakeState struct{ strings.Builder }

func (*fakeState) Width() (int, bool)     { return 0, false }
func (*fakeState) Precision() (int, bool) { return 0, false }
func (*fakeState) Flag(int) bool          { return false }

// TestNilHandleAccessors: the accessors of a nil handle return "", and a
// handle made from a nil one keeps the IDs it was given.
func TestNilHandleAccessors(t *testing.T) {
	t.Parallel()
	var c *phlo.RestClient
	var p *phlo.Phlo
	var mpc *phlo.MultiPartyCall
	var bridge *phlo.ConferenceBridge
	var m *phlo.Member
	var bm *phlo.BridgeMember
	for name, got := range map[string]string{
		"RestClient.AuthID": c.AuthID(), "RestClient.BaseURL": c.BaseURL(),
		"Phlo.ID": p.ID(), "MultiPartyCall.ID": mpc.ID(), "MultiPartyCall.PhloID": mpc.PhloID(),
		"ConferenceBridge.ID": bridge.ID(), "ConferenceBridge.PhloID": bridge.PhloID(),
		"Member.Address": m.Address(), "Member.NodeID": m.NodeID(), "Member.PhloID": m.PhloID(),
		"BridgeMember.Address": bm.Address(), "BridgeMember.NodeID": bm.NodeID(), "BridgeMember.PhloID": bm.PhloID(),
	} {
		if got != "" {
			t.Errorf("nil %s = %q, want \"\"", name, got)
		}
	}
	member := c.Phlo("p").MultiPartyCall("n").Member("+1")
	if member.Address() != "+1" || member.NodeID() != "n" || member.PhloID() != "p" {
		t.Errorf("member of a nil client: %q %q %q", member.Address(), member.NodeID(), member.PhloID())
	}
}
