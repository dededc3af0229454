package phlo

import (
	"context"
	"net/http"
)

// ConferenceBridge is a handle on a conference bridge node of a PHLO, the
// node that holds people in one conference. Making it costs no I/O; it is
// checked when a call is made.
//
// The public API reference has no page for this node: Plivo's Python and PHP
// SDKs are the source of its wire, which is that of the multi-party call's
// member actions under "conference_bridge".
type ConferenceBridge struct {
	phlo Phlo
	id   string
}

// ConferenceBridge returns a handle on the PHLO's conference bridge node
// nodeID.
func (p *Phlo) ConferenceBridge(nodeID string) *ConferenceBridge {
	if p == nil { // calls on the handle report the missing client
		return &ConferenceBridge{id: nodeID}
	}
	return &ConferenceBridge{phlo: *p, id: nodeID}
}

// ID returns the node's ID.
func (b *ConferenceBridge) ID() string { return b.id }

// PhloID returns the ID of the PHLO the node belongs to.
func (b *ConferenceBridge) PhloID() string { return b.phlo.id }

// Get fetches the node's details; NodeType is "conference_bridge".
func (b *ConferenceBridge) Get(ctx context.Context) (*NodeInfo, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	var info NodeInfo
	if err := b.phlo.client.do(ctx, &Request{Method: http.MethodGet, Path: b.path()}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

func (b *ConferenceBridge) check() error {
	if b == nil {
		return errNoClient
	}
	if err := b.phlo.check(); err != nil {
		return err
	}
	return checkSegment("nodeID", b.id)
}

func (b *ConferenceBridge) path() []string {
	return []string{"phlo", b.phlo.id, "conference_bridge", b.id}
}

// BridgeMember is a handle on one member of a conference bridge, named by
// the phone number or SIP endpoint they joined with. Making it costs no
// I/O; it is checked when a call is made.
type BridgeMember struct {
	bridge  ConferenceBridge
	address string
}

// Member returns a handle on the bridge's member address, such as
// "+14155550100" or "sip:alice@phone.plivo.com". The address is sent as one
// path segment, escaped.
func (b *ConferenceBridge) Member(address string) *BridgeMember {
	if b == nil { // calls on the handle report the missing client
		return &BridgeMember{address: address}
	}
	return &BridgeMember{bridge: *b, address: address}
}

// Address returns the member's address.
func (m *BridgeMember) Address() string { return m.address }

// NodeID returns the ID of the conference bridge node.
func (m *BridgeMember) NodeID() string { return m.bridge.id }

// PhloID returns the ID of the PHLO.
func (m *BridgeMember) PhloID() string { return m.bridge.phlo.id }

// The bridge's member actions. Each leaves the conference as one send
// would, so each is idempotent.
var (
	actionMute   = newMemberAction("mute", true)
	actionUnmute = newMemberAction("unmute", true)
)

// Mute mutes the member: the others no longer hear them. It is one
// request; muting a muted member changes nothing.
func (m *BridgeMember) Mute(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionMute)
}

// Unmute lets the others hear the member again.
func (m *BridgeMember) Unmute(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionUnmute)
}

// Hangup disconnects the member from the conference.
func (m *BridgeMember) Hangup(ctx context.Context) (*ActionResponse, error) {
	return m.act(ctx, &actionHangup)
}

func (m *BridgeMember) act(ctx context.Context, a *memberAction) (*ActionResponse, error) {
	if m == nil {
		return nil, errNoClient
	}
	if err := m.bridge.check(); err != nil {
		return nil, err
	}
	path := []string{"phlo", m.bridge.phlo.id, "conference_bridge", m.bridge.id, "members", m.address}
	return m.bridge.phlo.client.memberAction(ctx, path, m.address, a)
}
