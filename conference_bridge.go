package phlo

import "context"

// ConferenceBridge is a handle on a conference bridge node of a PHLO, the
// node that holds people in one conference; [Phlo.ConferenceBridge] makes
// it. Making it costs no I/O; it is checked when a call is made, and an
// empty node ID is an error matching [ErrInvalidArgument] before anything
// is sent.
//
// The public API reference has no page for this node: Plivo's Python and PHP
// SDKs are the source of its wire, which is that of the multi-party call's
// member actions under "conference_bridge".
type ConferenceBridge struct {
	node
}

// ConferenceBridge returns a handle on the PHLO's conference bridge node
// nodeID.
func (p *Phlo) ConferenceBridge(nodeID string) *ConferenceBridge {
	if p == nil { // calls on the handle report the missing client
		return &ConferenceBridge{node{id: nodeID}}
	}
	return &ConferenceBridge{node{phlo: *p, id: nodeID}}
}

// ID returns the node's ID, or "" for a nil handle.
func (b *ConferenceBridge) ID() string {
	if b == nil {
		return ""
	}
	return b.id
}

// PhloID returns the ID of the PHLO the node belongs to, or "" for a nil
// handle.
func (b *ConferenceBridge) PhloID() string {
	if b == nil {
		return ""
	}
	return b.phlo.id
}

// Get fetches the node's details; [NodeInfo.NodeType] is
// "conference_bridge".
func (b *ConferenceBridge) Get(ctx context.Context) (*NodeInfo, error) {
	if b == nil {
		return nil, errNoClient
	}
	return b.get(ctx, conferenceBridge)
}

// BridgeMember is a handle on one member of a conference bridge, named by
// the phone number or SIP endpoint they joined with; [ConferenceBridge.Member]
// makes it. Making it costs no I/O; it is checked when a call is made.
type BridgeMember struct {
	node    node
	address string
}

// Member returns a handle on the bridge's member address, such as
// "+14155550100" or "sip:alice@phone.plivo.com". The address is sent as one
// path segment, escaped.
func (b *ConferenceBridge) Member(address string) *BridgeMember {
	if b == nil { // calls on the handle report the missing client
		return &BridgeMember{address: address}
	}
	return &BridgeMember{node: b.node, address: address}
}

// Address returns the member's address, or "" for a nil handle.
func (m *BridgeMember) Address() string {
	if m == nil {
		return ""
	}
	return m.address
}

// NodeID returns the ID of the conference bridge node, or "" for a nil
// handle.
func (m *BridgeMember) NodeID() string {
	if m == nil {
		return ""
	}
	return m.node.id
}

// PhloID returns the ID of the PHLO, or "" for a nil handle.
func (m *BridgeMember) PhloID() string {
	if m == nil {
		return ""
	}
	return m.node.phlo.id
}

// The bridge's member actions. Each leaves the conference as one send
// would, so each is idempotent.
var (
	actionMute   = newMemberAction("mute", true)
	actionUnmute = newMemberAction("unmute", true)
)

// Mute mutes the member: the others no longer hear them. It is one
// request; muting a muted member changes nothing. [BridgeMember.Unmute]
// undoes it.
func (m *BridgeMember) Mute(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionMute)
}

// Unmute lets the others hear the member again.
func (m *BridgeMember) Unmute(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionUnmute)
}

// Hangup disconnects the member from the conference. It is never sent
// twice once it may have reached the server.
func (m *BridgeMember) Hangup(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionHangup)
}

func (m *BridgeMember) act(ctx context.Context, a *memberAction) (*ActionResponse, error) {
	if m == nil {
		return nil, errNoClient
	}
	return m.node.act(ctx, conferenceBridge, m.address, a)
}
