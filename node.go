package phlo

import (
	"context"
	"net/http"
)

// node is what a handle on a node of a PHLO holds: the PHLO and the node's
// ID. Both kinds of node, the multi-party call and the conference bridge,
// are read, checked and have their members acted on the same way; each
// handle says its kind, as the path names it, when it calls. (Keeping the
// kind out of the handle keeps the handles as small and cheap as with one
// kind.)
type node struct {
	phlo Phlo
	id   string
}

// The kinds of node, as the path names them.
const (
	multiPartyCall   = "multi_party_call"
	conferenceBridge = "conference_bridge"
)

func (n *node) check() error {
	if err := n.phlo.check(); err != nil {
		return err
	}
	return checkSegment("nodeID", n.id)
}

func (n *node) path(kind string) []string {
	return []string{"phlo", n.phlo.id, kind, n.id}
}

// get reads the node.
func (n *node) get(ctx context.Context, kind string) (*NodeInfo, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	var info NodeInfo
	r := Request{Method: http.MethodGet, Path: n.path(kind), op: operation{action: "get", nodeKind: kind}}
	if err := n.phlo.client.do(ctx, &r, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// act sends a member action for the member at address.
func (n *node) act(ctx context.Context, kind, address string, a *memberAction) (*ActionResponse, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	if err := checkSegment("address", address); err != nil {
		return nil, err
	}
	r := Request{
		Method:     http.MethodPost,
		Path:       []string{"phlo", n.phlo.id, kind, n.id, "members", address},
		Body:       a.body,
		Idempotent: a.idempotent,
		op:         operation{action: a.name, nodeKind: kind, address: address},
	}
	var resp ActionResponse
	if err := n.phlo.client.do(ctx, &r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
