package phlotest

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/phlogo/phlo"
)

type phloState struct {
	name      string
	createdOn time.Time
	nodes     map[string]*nodeState   // multi-party calls
	bridges   map[string]*bridgeState // conference bridges
}

type nodeState struct {
	name      string
	createdOn time.Time
	members   []*MemberState // in the order they joined
}

// MemberState is a member of a multi-party call as the server sees it.
type MemberState struct {
	// Address is the member's phone number or SIP endpoint.
	Address string
	// Role is the member's role in the call.
	Role phlo.Role
	// OnHold says the member is on hold.
	OnHold bool
	// TransferringTo is the address this member is warm-transferring the
	// call to, until resume_call or abort_transfer; empty otherwise.
	TransferringTo string
}

// AddPhlo adds a PHLO named name, or renames it if it exists.
func (s *Server) AddPhlo(phloID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phlo(phloID).name = name
}

// AddNode adds a multi-party call node named name to a PHLO, creating the
// PHLO if absent, or renames the node if it exists.
func (s *Server) AddNode(phloID, nodeID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.node(phloID, nodeID).name = name
}

// AddMember puts a member into a multi-party call, creating the PHLO and the
// node if absent. An empty role is RoleAgent. A member already in the call
// takes the new role and comes off hold.
func (s *Server) AddMember(phloID, nodeID, address string, role phlo.Role) {
	if role == "" {
		role = phlo.RoleAgent
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.node(phloID, nodeID)
	if m := n.member(address); m != nil {
		m.Role, m.OnHold = role, false
		return
	}
	n.members = append(n.members, &MemberState{Address: address, Role: role})
}

// Member returns a member's state; false if the call has no such member,
// because they never joined or have left.
func (s *Server) Member(phloID, nodeID, address string) (MemberState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.lookupNode(phloID, nodeID)
	if n == nil {
		return MemberState{}, false
	}
	m := n.member(address)
	if m == nil {
		return MemberState{}, false
	}
	return *m, true
}

// Members returns the members of a call in the order they joined.
func (s *Server) Members(phloID, nodeID string) []MemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.lookupNode(phloID, nodeID)
	if n == nil {
		return nil
	}
	out := make([]MemberState, len(n.members))
	for i, m := range n.members {
		out[i] = *m
	}
	return out
}

// Run is a PHLO run the server started.
type Run struct {
	// PhloID and RunID name the PHLO and the run.
	PhloID, RunID string
	// Payload is the body the run was started with, {} when it had none,
	// cut at MaxRecordedBody (64 KiB) as a recorded request's is.
	Payload json.RawMessage
}

// Runs returns the runs started for a PHLO, oldest first: those among the
// newest MaxRuns (1,000).
func (s *Server) Runs(phloID string) []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Run
	for _, r := range s.runs {
		if r.PhloID == phloID {
			r.Payload = slices.Clone(r.Payload)
			out = append(out, r)
		}
	}
	return out
}

// phlo returns the PHLO, creating it. The caller holds mu.
func (s *Server) phlo(phloID string) *phloState {
	p := s.phlos[phloID]
	if p == nil {
		p = &phloState{name: "PHLO " + phloID, createdOn: time.Now(), nodes: make(map[string]*nodeState), bridges: make(map[string]*bridgeState)}
		s.phlos[phloID] = p
	}
	return p
}

// node returns the node, creating it and its PHLO. The caller holds mu.
func (s *Server) node(phloID, nodeID string) *nodeState {
	p := s.phlo(phloID)
	n := p.nodes[nodeID]
	if n == nil {
		n = &nodeState{name: "Multi-Party Call " + nodeID, createdOn: time.Now()}
		p.nodes[nodeID] = n
	}
	return n
}

// lookupNode returns the node or nil. The caller holds mu.
func (s *Server) lookupNode(phloID, nodeID string) *nodeState {
	p := s.phlos[phloID]
	if p == nil {
		return nil
	}
	return p.nodes[nodeID]
}

func (n *nodeState) member(address string) *MemberState {
	for _, m := range n.members {
		if m.Address == address {
			return m
		}
	}
	return nil
}

func (n *nodeState) remove(address string) {
	n.members = slices.DeleteFunc(n.members, func(m *MemberState) bool { return m.Address == address })
	for _, m := range n.members {
		if m.TransferringTo == address {
			m.TransferringTo = ""
		}
	}
}

// bridgeState is a conference bridge node.
type bridgeState struct {
	name      string
	createdOn time.Time
	members   []*BridgeMemberState // in the order they joined
}

// BridgeMemberState is a member of a conference bridge as the server sees
// it.
type BridgeMemberState struct {
	// Address is the member's phone number or SIP endpoint.
	Address string
	// Muted says the others do not hear the member.
	Muted bool
}

// AddBridge adds a conference bridge node named name to a PHLO, creating
// the PHLO if absent, or renames the node if it exists.
func (s *Server) AddBridge(phloID, nodeID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bridge(phloID, nodeID).name = name
}

// AddBridgeMember puts a member into a conference bridge, creating the PHLO
// and the node if absent. A member already in the bridge is unmuted.
func (s *Server) AddBridgeMember(phloID, nodeID, address string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridge(phloID, nodeID)
	if m := b.member(address); m != nil {
		m.Muted = false
		return
	}
	b.members = append(b.members, &BridgeMemberState{Address: address})
}

// BridgeMember returns a conference bridge member's state; false if the
// bridge has no such member, because they never joined or have left.
func (s *Server) BridgeMember(phloID, nodeID, address string) (BridgeMemberState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.lookupBridge(phloID, nodeID)
	if b == nil {
		return BridgeMemberState{}, false
	}
	m := b.member(address)
	if m == nil {
		return BridgeMemberState{}, false
	}
	return *m, true
}

// BridgeMembers returns the members of a conference bridge in the order
// they joined.
func (s *Server) BridgeMembers(phloID, nodeID string) []BridgeMemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.lookupBridge(phloID, nodeID)
	if b == nil {
		return nil
	}
	out := make([]BridgeMemberState, len(b.members))
	for i, m := range b.members {
		out[i] = *m
	}
	return out
}

// bridge returns the bridge, creating it and its PHLO. The caller holds mu.
func (s *Server) bridge(phloID, nodeID string) *bridgeState {
	p := s.phlo(phloID)
	b := p.bridges[nodeID]
	if b == nil {
		b = &bridgeState{name: "Conference Bridge " + nodeID, createdOn: time.Now()}
		p.bridges[nodeID] = b
	}
	return b
}

// lookupBridge returns the bridge or nil. The caller holds mu.
func (s *Server) lookupBridge(phloID, nodeID string) *bridgeState {
	p := s.phlos[phloID]
	if p == nil {
		return nil
	}
	return p.bridges[nodeID]
}

func (b *bridgeState) member(address string) *BridgeMemberState {
	for _, m := range b.members {
		if m.Address == address {
			return m
		}
	}
	return nil
}
