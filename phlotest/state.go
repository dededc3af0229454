package phlotest

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/phlogo/phlo"
)

// phloModel is a PHLO as the server keeps it.
type phloModel struct {
	name      string
	createdOn time.Time
	calls     map[string]*node[MemberState]       // multi-party call nodes
	bridges   map[string]*node[BridgeMemberState] // conference bridge nodes
}

// node is a node of a PHLO and the members in it, in the order they
// joined: a multi-party call's or a conference bridge's.
type node[M addressed] struct {
	name      string
	createdOn time.Time
	members   []*M
	total     *int // the server's count of members in every node
}

// addressed is a member of either kind of node.
type addressed interface {
	MemberState | BridgeMemberState
	address() string
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

// size returns how many members n has; n may be nil.
func (n *node[M]) size() int {
	if n == nil {
		return 0
	}
	return len(n.members)
}

// add appends m; the caller has checked the caps.
func (n *node[M]) add(m M) *M {
	n.members = append(n.members, &m)
	*n.total++
	return &m
}

// remove takes the member at address out of the node.
func (n *node[M]) remove(address string) {
	before := len(n.members)
	n.members = slices.DeleteFunc(n.members, func(m *M) bool { return (*m).address() == address })
	*n.total -= before - len(n.members)
}

// state returns a copy of the member at address; false if there is none.
func (n *node[M]) state(address string) (M, bool) {
	if m := n.member(address); m != nil {
		return *m, true
	}
	var zero M
	return zero, false
}

// states returns a copy of every member, never nil; n may be nil.
func (n *node[M]) states() []M {
	if n == nil {
		return []M{}
	}
	out := make([]M, len(n.members))
	for i, m := range n.members {
		out[i] = *m
	}
	return out
}

// MemberState is a member of a multi-party call as the server sees it, and
// as GET /__phlo/state shows it.
type MemberState struct {
	// Address is the member's phone number or SIP endpoint.
	Address string `json:"address"`
	// Role is the member's role in the call.
	Role phlo.Role `json:"role"`
	// OnHold says the member is on hold.
	OnHold bool `json:"on_hold"`
	// TransferringTo is the address this member is warm-transferring the
	// call to, until resume_call or abort_transfer; empty otherwise.
	TransferringTo string `json:"transferring_to"`
}

func (m MemberState) address() string { return m.Address }

// BridgeMemberState is a member of a conference bridge as the server sees
// it, and as GET /__phlo/state shows it.
type BridgeMemberState struct {
	// Address is the member's phone number or SIP endpoint.
	Address string `json:"address"`
	// Muted says the others do not hear the member.
	Muted bool `json:"muted"`
}

func (m BridgeMemberState) address() string { return m.Address }

// AddPhlo adds a PHLO named name, or renames it if it exists.
//
// The methods that add to the model are the test's own and are not held to
// the caps (MaxPhlos and the others), which bound what arrives on the wire.
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
	calls.node(s, phloID, nodeID).name = name
}

// AddMember puts a member into a multi-party call, creating the PHLO and the
// node if absent. An empty role is RoleAgent. A member already in the call
// takes the new role and comes off hold.
func (s *Server) AddMember(phloID, nodeID, address string, role phlo.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putMember(calls.node(s, phloID, nodeID), address, role)
}

// putMember adds a call member or updates its role. The caller holds mu.
func (s *Server) putMember(n *node[MemberState], address string, role phlo.Role) MemberState {
	if role == "" {
		role = phlo.RoleAgent
	}
	m := n.member(address)
	if m == nil {
		m = n.add(MemberState{Address: address})
	}
	m.Role, m.OnHold = role, false
	return *m
}

// Member returns a member's state; false if the call has no such member,
// because they never joined or have left.
func (s *Server) Member(phloID, nodeID, address string) (MemberState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return calls.find(s, phloID, nodeID).state(address)
}

// Members returns the members of a call in the order they joined.
func (s *Server) Members(phloID, nodeID string) []MemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return calls.find(s, phloID, nodeID).states()
}

// AddBridge adds a conference bridge node named name to a PHLO, creating
// the PHLO if absent, or renames the node if it exists.
func (s *Server) AddBridge(phloID, nodeID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bridges.node(s, phloID, nodeID).name = name
}

// AddBridgeMember puts a member into a conference bridge, creating the PHLO
// and the node if absent. A member already in the bridge is unmuted.
func (s *Server) AddBridgeMember(phloID, nodeID, address string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putBridgeMember(bridges.node(s, phloID, nodeID), address)
}

// putBridgeMember adds a bridge member or unmutes it. The caller holds mu.
func (s *Server) putBridgeMember(b *node[BridgeMemberState], address string) BridgeMemberState {
	m := b.member(address)
	if m == nil {
		m = b.add(BridgeMemberState{Address: address})
	}
	m.Muted = false
	return *m
}

// BridgeMember returns a conference bridge member's state; false if the
// bridge has no such member, because they never joined or have left.
func (s *Server) BridgeMember(phloID, nodeID, address string) (BridgeMemberState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bridges.find(s, phloID, nodeID).state(address)
}

// BridgeMembers returns the members of a conference bridge in the order
// they joined.
func (s *Server) BridgeMembers(phloID, nodeID string) []BridgeMemberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bridges.find(s, phloID, nodeID).states()
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
// newest MaxRuns (1,000) that fit in MaxRunBytes (8 MiB).
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

// addRun keeps run, forgetting the oldest runs past MaxRuns or MaxRunBytes.
// The caller holds mu.
func (s *Server) addRun(run Run) {
	s.runs = append(s.runs, run)
	s.runBytes += runSize(run)
	drop := 0
	for len(s.runs)-drop > MaxRuns || s.runBytes > MaxRunBytes {
		s.runBytes -= runSize(s.runs[drop])
		drop++
	}
	if drop > 0 {
		s.runs = append(s.runs[:0], s.runs[drop:]...)
	}
}

// runSize is what a run costs against MaxRunBytes: its strings and payload,
// and a little for the record itself.
func runSize(r Run) int { return len(r.PhloID) + len(r.RunID) + len(r.Payload) + 64 }

// phlo returns the PHLO, creating it. The caller holds mu.
func (s *Server) phlo(phloID string) *phloModel {
	p := s.phlos[phloID]
	if p == nil {
		p = &phloModel{
			name:      "PHLO " + phloID,
			createdOn: time.Now(),
			calls:     make(map[string]*node[MemberState]),
			bridges:   make(map[string]*node[BridgeMemberState]),
		}
		s.phlos[phloID] = p
	}
	return p
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

// dropRuns forgets the runs of a PHLO. The caller holds mu.
func (s *Server) dropRuns(phloID string) {
	s.runs = slices.DeleteFunc(s.runs, func(r Run) bool {
		if r.PhloID == phloID {
			s.runBytes -= runSize(r)
			return true
		}
		return false
	})
}
