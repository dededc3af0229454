package phlotest

import (
	"fmt"

	"github.com/phlogo/phlo"
)

// The control API's answers on nodes and members, for both kinds.

// putNode answers PUT /__phlo/phlo/{phlo}/{kind}/{node} {"name"}: the node
// is made, with its PHLO as needed, or renamed.
func (k *kind[M]) putNode(s *Server, c *call) (any, error) {
	var b phloBody
	if err := decodeStrict(c.body, &b); err != nil {
		return nil, err
	}
	phloID, nodeID := c.param("phlo"), c.param("node")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := k.roomForNode(s, phloID, nodeID, b.Name); err != nil {
		return nil, err
	}
	n := k.node(s, phloID, nodeID)
	if b.Name != nil {
		n.name = *b.Name
	}
	return k.show(nodeID, n), nil
}

// roomForNode reports whether the node exists or may be added, with its
// PHLO, or which cap it would pass. The caller holds mu.
func (k *kind[M]) roomForNode(s *Server, phloID, nodeID string, name *string) error {
	if err := s.roomForPhlo(phloID, name); err != nil {
		return err
	}
	p := s.phlos[phloID]
	switch {
	case k.find(s, phloID, nodeID) != nil:
		return nil
	case len(nodeID) > MaxIDBytes:
		return errCap("MaxIDBytes", MaxIDBytes, "the node ID is too long")
	case p != nil && len(p.calls)+len(p.bridges) >= MaxNodesPerPhlo:
		return errCap("MaxNodesPerPhlo", MaxNodesPerPhlo, "the PHLO holds as many nodes as it may")
	}
	return nil
}

func (k *kind[M]) getNodeState(s *Server, c *call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := k.find(s, c.param("phlo"), c.param("node"))
	if n == nil {
		return nil, errNoNode
	}
	return k.show(c.param("node"), n), nil
}

func (k *kind[M]) deleteNode(s *Server, c *call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := k.find(s, c.param("phlo"), c.param("node"))
	if n == nil {
		return nil, errNoNode
	}
	s.memberCount -= len(n.members)
	delete(k.nodes(s.phlos[c.param("phlo")]), c.param("node"))
	return nil, nil
}

// putMember answers PUT .../{kind}/{node}/members/{member}: the member is
// added, with its node and PHLO as needed, or updated as the body says.
func (k *kind[M]) putMember(s *Server, c *call) (any, error) {
	phloID, nodeID, address := c.param("phlo"), c.param("node"), c.param("member")
	add, update, err := k.newMember(address, c.body)
	if err != nil {
		return nil, err
	}
	if address == "." || address == ".." {
		return nil, badRequest("address", fmt.Sprintf("%q is not an address", address))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := k.roomForNode(s, phloID, nodeID, nil); err != nil {
		return nil, err
	}
	n := k.find(s, phloID, nodeID)
	if m := n.member(address); m != nil {
		update(m)
		return *m, nil
	}
	if err := roomFor(s, n.size(), address); err != nil {
		return nil, err
	}
	return *k.node(s, phloID, nodeID).add(add), nil
}

func (k *kind[M]) getMember(s *Server, c *call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := k.find(s, c.param("phlo"), c.param("node")).member(c.param("member"))
	if m == nil {
		return nil, errNoMember
	}
	return *m, nil
}

// deleteMember takes the member out as if they hung up.
func (k *kind[M]) deleteMember(s *Server, c *call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := k.find(s, c.param("phlo"), c.param("node"))
	m := n.member(c.param("member"))
	if m == nil {
		return nil, errNoMember
	}
	return nil, k.actions["hangup"](n, m)
}

// callMemberBody is the body of PUT on a call member.
type callMemberBody struct {
	Role phlo.Role `json:"role"`
}

// newCallMember reads PUT's body for a call member: the member to add, or
// the role to give a member already in the call.
func newCallMember(address string, body []byte) (MemberState, func(*MemberState), error) {
	var b callMemberBody
	if err := decodeStrict(body, &b); err != nil {
		return MemberState{}, nil, err
	}
	switch {
	case b.Role == "":
		b.Role = phlo.RoleAgent
	case !validRole(b.Role):
		return MemberState{}, nil, badRequest("role", fmt.Sprintf("unknown role %q (agent, customer or supervisor)", b.Role))
	}
	return MemberState{Address: address, Role: b.Role}, func(m *MemberState) { m.Role = b.Role }, nil
}

// newBridgeMember reads PUT's body for a bridge member, which has no
// fields: a member already in the bridge is left as it is.
func newBridgeMember(address string, body []byte) (BridgeMemberState, func(*BridgeMemberState), error) {
	var b struct{}
	if err := decodeStrict(body, &b); err != nil {
		return BridgeMemberState{}, nil, err
	}
	return BridgeMemberState{Address: address}, func(*BridgeMemberState) {}, nil
}
