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
	calls     map[string]*node[MemberState]       // multi-party call nodes
	bridges   map[string]*node[BridgeMemberState] // conference bridge nodes
}

// call returns the PHLO's multi-party call nodeID, or nil; p may be nil.
func (p *phloState) call(nodeID string) *node[MemberState] {
	if p == nil {
		return nil
	}
	return p.calls[nodeID]
}

// bridge returns the PHLO's conference bridge nodeID, or nil; p may be nil.
func (p *phloState) bridge(nodeID string) *node[BridgeMemberState] {
	if p == nil {
		return nil
	}
	return p.bridges[nodeID]
}

// node is a node of a PHLO and the members in it, in the order they
// joined: a multi-party call's or a conference bridge's.
type node[M addressed] struct {
	name      string
	createdOn time.Time
	members   []*M
}

// addressed is a member of either kind of node.
type addressed interface{ address() string }

// nodeIn returns nodes[nodeID], adding it with name if absent.
func nodeIn[M addressed](nodes map[string]*node[M], nodeID, name string) *node[M] {
	n := nodes[nodeID]
	if n == nil {
		n = &node[M]{name: name, createdOn: time.Now()}
		nodes[nodeID] = n
	}
	return n
}

// member returns the member at address, or nil; n may be nil.
func (n *node[M]) member(address string) *M {
	if n == nil {
		return nil
	}
	for _, m := range n.members {
		if (*m).address() == address {
			return m
		}
	}
	return nil
}

// state returns a copy of the member at address; false if there is none.
func (n *node[M]) state(address string) (M, bool) {
	if m := n.member(address); m != nil {
		return *m, true
	}
	var zero M
	return zero, false
}

// states returns a copy of every member; n may be nil.
func (n *node[M]) states() []M {
	if n == nil {
		return nil
	}
	out := make([]M, len(n.members))
	for i, m := range n.members {
		out[i] = *m
	}
	return out
}

// remove takes the member at address out of the node.
func (n *node[M]) remove(address string) {
	n.members = slices.DeleteFunc(n.members, func(m *M) bool { return (*m).address() == address })
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

func (m MemberState) address() string { return m.Address }

// BridgeMemberState is a member of a conference bridge as the server sees
// it.
type BridgeMemberState struct {
	// Address is the member's phone number or SIP endpoint.
	Address string
	// Muted says the others do not hear the member.
	Muted bool
}

func (m BridgeMemberState) address() string { return m.Address }

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
	s.callNode(phloID, nodeID).name = name
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
	n := s.callNode(phloID, nodeID)
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
	return s.phlos[phloID].call(nodeID).state(address)
}

// Members returns the members of a call in the order they joined.
func (s *Server) Members(phloID, nodeID string) []MemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phlos[phloID].call(nodeID).states()
}

// AddBridge adds a conference bridge node named name to a PHLO, creating
// the PHLO if absent, or renames the node if it exists.
func (s *Server) AddBridge(phloID, nodeID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bridgeNode(phloID, nodeID).name = name
}

// AddBridgeMember puts a member into a conference bridge, creating the PHLO
// and the node if absent. A member already in the bridge is unmuted.
func (s *Server) AddBridgeMember(phloID, nodeID, address string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridgeNode(phloID, nodeID)
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
	return s.phlos[phloID].bridge(nodeID).state(address)
}

// BridgeMembers returns the members of a conference bridge in the order
// they joined.
func (s *Server) BridgeMembers(phloID, nodeID string) []BridgeMemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phlos[phloID].bridge(nodeID).states()
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
		p = &phloState{
			name:      "PHLO " + phloID,
			createdOn: time.Now(),
			calls:     make(map[string]*node[MemberState]),
			bridges:   make(map[string]*node[BridgeMemberState]),
		}
		s.phlos[phloID] = p
	}
	return p
}

// callNode returns the multi-party call, creating it and its PHLO. The
// caller holds mu.
func (s *Server) callNode(phloID, nodeID string) *node[MemberState] {
	return nodeIn(s.phlo(phloID).calls, nodeID, "Multi-Party Call "+nodeID)
}

// bridgeNode returns the conference bridge, creating it and its PHLO. The
// caller holds mu.
func (s *Server) bridgeNode(phloID, nodeID string) *node[BridgeMemberState] {
	return nodeIn(s.phlo(phloID).bridges, nodeID, "Conference Bridge "+nodeID)
}

// hangUp takes a member out of a call, and cancels a warm transfer towards
// them.
func hangUp(n *node[MemberState], address string) {
	n.remove(address)
	for _, m := range n.members {
		if m.TransferringTo == address {
			m.TransferringTo = ""
		}
	}
}
