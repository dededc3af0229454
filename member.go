package phlo

import (
	"context"
	"encoding/json"
)

// Member is a handle on one member of a multi-party call, named by the phone
// number or SIP endpoint they joined with; [MultiPartyCall.Member] makes it.
// Making it costs no I/O; it is checked when a call is made, and a bad
// address is an error matching [ErrInvalidArgument] before anything is
// sent.
type Member struct {
	node    node
	address string
}

// Member returns a handle on the call's member address, such as
// "+14155550100" or "sip:alice@phone.plivo.com". The address is sent as one
// path segment, escaped.
func (m *MultiPartyCall) Member(address string) *Member {
	if m == nil { // calls on the handle report the missing client
		return &Member{address: address}
	}
	return &Member{node: m.node, address: address}
}

// Address returns the member's address, or "" for a nil handle.
func (m *Member) Address() string {
	if m == nil {
		return ""
	}
	return m.address
}

// NodeID returns the ID of the multi-party call node, or "" for a nil
// handle.
func (m *Member) NodeID() string {
	if m == nil {
		return ""
	}
	return m.node.id
}

// PhloID returns the ID of the PHLO, or "" for a nil handle.
func (m *Member) PhloID() string {
	if m == nil {
		return ""
	}
	return m.node.phlo.id
}

// memberAction is one action on a member, with its body encoded once.
type memberAction struct {
	name string
	body json.RawMessage
	// idempotent actions leave the call in the same state when sent twice,
	// so they may be retried after a 502, 503, 504 or transport error.
	idempotent bool
}

func newMemberAction(name string, idempotent bool) memberAction {
	body, _ := json.Marshal(struct {
		Action string `json:"action"`
	}{name})
	return memberAction{name: name, body: body, idempotent: idempotent}
}

var (
	actionHold          = newMemberAction("hold", true)
	actionUnhold        = newMemberAction("unhold", true)
	actionHangup        = newMemberAction("hangup", false)
	actionAbortTransfer = newMemberAction("abort_transfer", false)
	actionResumeCall    = newMemberAction("resume_call", false)
	actionVoicemailDrop = newMemberAction("voicemail_drop", false)
)

// Hold puts the member on hold: they are muted and the others hear hold
// music. It is one request; [Member.Unhold] takes them off.
func (m *Member) Hold(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionHold)
}

// Unhold takes the member off hold.
func (m *Member) Unhold(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionUnhold)
}

// Hangup disconnects the member from the call. It is never sent twice once
// it may have reached the server: it hangs up whatever leg is at the
// address when it arrives.
func (m *Member) Hangup(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionHangup)
}

// ResumeCall completes a warm transfer ([MultiPartyCall.WarmTransfer]) that
// this member started: it brings them back into the original call. Plivo
// does not say that it takes anyone off hold, and the fake runner does not.
// It is never sent twice once it may have reached the server.
func (m *Member) ResumeCall(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionResumeCall)
}

// VoicemailDrop drops the agent's prerecorded voicemail to the member, a
// customer. It is never sent twice once it may have reached the server.
func (m *Member) VoicemailDrop(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionVoicemailDrop)
}

// AbortTransfer cancels the transfer this member started; as with
// [Member.ResumeCall], unhold the customer yourself. It is never sent
// twice once it may have reached the server: it aborts whatever transfer is
// in progress when it arrives.
func (m *Member) AbortTransfer(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionAbortTransfer)
}

func (m *Member) act(ctx context.Context, a *memberAction) (*ActionResponse, error) {
	if m == nil {
		return nil, errNoClient
	}
	return m.node.act(ctx, multiPartyCall, m.address, a)
}
