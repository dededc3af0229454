package phlotest

import (
	"time"

	"github.com/phlogo/phlo"
)

// kind is one kind of node, a multi-party call or a conference bridge: all
// that sets one apart from the other, so that the runner's routes and the
// control API serve both with the same code. A new kind of node is one more
// value of this type and its rows in the route tables.
type kind[M addressed] struct {
	// name is the node_type, and the path segment naming the kind.
	name string
	// title is the start of a new node's default name.
	title string
	// nodes returns the PHLO's nodes of this kind.
	nodes func(*phloModel) map[string]*node[M]
	// actions performs each member action the runner takes on this kind.
	actions map[string]func(n *node[M], m *M) error
	// show is a node as GET /__phlo/state shows it.
	show func(id string, n *node[M]) any
	// newMember reads the body of a control PUT on a member: the member
	// to add, or the change to make to one who is there.
	newMember func(address string, body []byte) (M, func(*M), error)
}

// calls is the multi-party call node.
var calls = &kind[MemberState]{
	name:  "multi_party_call",
	title: "Multi-Party Call ",
	nodes: func(p *phloModel) map[string]*node[MemberState] { return p.calls },
	actions: map[string]func(*node[MemberState], *MemberState) error{
		"hold":   func(_ *node[MemberState], m *MemberState) error { m.OnHold = true; return nil },
		"unhold": func(_ *node[MemberState], m *MemberState) error { m.OnHold = false; return nil },
		"hangup": leave, "voicemail_drop": leave,
		"resume_call":    endTransfer(false),
		"abort_transfer": endTransfer(true),
	},
	show:      func(id string, n *node[MemberState]) any { return callState(id, n) },
	newMember: newCallMember,
}

// bridges is the conference bridge node.
var bridges = &kind[BridgeMemberState]{
	name:  "conference_bridge",
	title: "Conference Bridge ",
	nodes: func(p *phloModel) map[string]*node[BridgeMemberState] { return p.bridges },
	actions: map[string]func(*node[BridgeMemberState], *BridgeMemberState) error{
		"mute":   func(_ *node[BridgeMemberState], m *BridgeMemberState) error { m.Muted = true; return nil },
		"unmute": func(_ *node[BridgeMemberState], m *BridgeMemberState) error { m.Muted = false; return nil },
		"hangup": func(b *node[BridgeMemberState], m *BridgeMemberState) error { b.remove(m.Address); return nil },
	},
	show:      func(id string, n *node[BridgeMemberState]) any { return bridgeState(id, n) },
	newMember: newBridgeMember,
}

// leave takes a call member out of the call.
func leave(n *node[MemberState], m *MemberState) error {
	hangUp(n, m.Address)
	return nil
}

// endTransfer completes the warm transfer m started (resume_call), or
// cancels it and drops its target (abort_transfer).
func endTransfer(abort bool) func(*node[MemberState], *MemberState) error {
	return func(n *node[MemberState], m *MemberState) error {
		if m.TransferringTo == "" {
			return errNoTransfer
		}
		if abort {
			hangUp(n, m.TransferringTo)
		}
		m.TransferringTo = ""
		return nil
	}
}

// node returns the PHLO's node of this kind, creating it and the PHLO. The
// caller holds mu.
func (k *kind[M]) node(s *Server, phloID, nodeID string) *node[M] {
	nodes := k.nodes(s.phlo(phloID))
	n := nodes[nodeID]
	if n == nil {
		n = &node[M]{name: k.title + nodeID, createdOn: time.Now(), total: &s.memberCount}
		nodes[nodeID] = n
	}
	return n
}

// find returns the node, or nil. The caller holds mu.
func (k *kind[M]) find(s *Server, phloID, nodeID string) *node[M] {
	if p := s.phlos[phloID]; p != nil {
		return k.nodes(p)[nodeID]
	}
	return nil
}

// lookup returns the node, or the runner's error saying which of the PHLO
// and the node is unknown. The caller holds mu.
func (k *kind[M]) lookup(s *Server, phloID, nodeID string) (*node[M], error) {
	p := s.phlos[phloID]
	switch {
	case p == nil:
		return nil, errPhloNotFound
	case k.nodes(p)[nodeID] == nil:
		return nil, errNodeNotFound
	}
	return k.nodes(p)[nodeID], nil
}

// getNode answers GET /v1/phlo/{phlo}/{kind}/{node}.
func (k *kind[M]) getNode(s *Server, c *call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := k.lookup(s, c.param("phlo"), c.param("node"))
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"api_id":     newID(),
		"node_id":    c.param("node"),
		"phlo_id":    c.param("phlo"),
		"name":       n.name,
		"node_type":  k.name,
		"created_on": n.createdOn.UTC().Format(createdOnLayout),
	}, nil
}

// memberAction answers POST /v1/phlo/{phlo}/{kind}/{node}/members/{member}.
func (k *kind[M]) memberAction(s *Server, c *call) (any, error) {
	act := k.actions[c.action]
	switch {
	case c.action == "":
		return nil, errNoAction
	case act == nil:
		return nil, errBadAction
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := k.lookup(s, c.param("phlo"), c.param("node"))
	if err != nil {
		return nil, err
	}
	m := n.member(c.param("member"))
	if m == nil {
		return nil, errMemberNotFound
	}
	if err := act(n, m); err != nil {
		return nil, err
	}
	return actionOK(), nil
}

// validRole reports whether the runner takes role for a call member.
func validRole(role phlo.Role) bool {
	switch role {
	case phlo.RoleAgent, phlo.RoleCustomer, phlo.RoleSupervisor:
		return true
	}
	return false
}
