package phlo

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// MultiPartyCall is a handle on a multi-party call node of a PHLO, made by
// [Phlo.MultiPartyCall]. Making it costs no I/O; it is checked when a call
// is made, and an empty node ID is an error matching [ErrInvalidArgument]
// before anything is sent.
type MultiPartyCall struct {
	node
}

// MultiPartyCall returns a handle on the PHLO's multi-party call node nodeID.
func (p *Phlo) MultiPartyCall(nodeID string) *MultiPartyCall {
	if p == nil { // calls on the handle report the missing client
		return &MultiPartyCall{node{id: nodeID}}
	}
	return &MultiPartyCall{node{phlo: *p, id: nodeID}}
}

// ID returns the node's ID, or "" for a nil handle.
func (m *MultiPartyCall) ID() string {
	if m == nil {
		return ""
	}
	return m.id
}

// PhloID returns the ID of the PHLO the node belongs to, or "" for a nil
// handle.
func (m *MultiPartyCall) PhloID() string {
	if m == nil {
		return ""
	}
	return m.phlo.id
}

// Role is a member's role in a multi-party call.
type Role string

// The roles the runner knows.
const (
	RoleAgent      Role = "agent"
	RoleCustomer   Role = "customer"
	RoleSupervisor Role = "supervisor"
)

// CallParams are the parameters of [MultiPartyCall.Call],
// [MultiPartyCall.WarmTransfer] and [MultiPartyCall.ColdTransfer].
type CallParams struct {
	// TriggerSource is the phone number or SIP endpoint of the member,
	// usually an agent, who triggers the action. Required.
	TriggerSource string
	// To is the phone number or SIP endpoint to dial. Required.
	To string
	// Role is the role of the member dialled: [RoleAgent], [RoleCustomer] or
	// [RoleSupervisor]; empty sends RoleAgent. Any other value, another case
	// included, is an [*ArgumentError] before anything is sent: a role the
	// runner learns later needs a release of the SDK, or [RestClient.Do].
	Role Role
}

// callAction is the body of a call action; its field order is the wire's.
type callAction struct {
	Action        string `json:"action"`
	TriggerSource string `json:"trigger_source"`
	To            string `json:"to"`
	Role          Role   `json:"role"`
}

// NodeInfo describes a node, a multi-party call or a conference bridge, as
// [MultiPartyCall.Get] and [ConferenceBridge.Get] read it.
type NodeInfo struct {
	// APIID identifies the request.
	APIID string `json:"api_id"`
	// NodeID is the node's ID.
	NodeID string `json:"node_id"`
	// PhloID is the ID of the PHLO the node belongs to.
	PhloID string `json:"phlo_id"`
	// Name is the node's name.
	Name string `json:"name"`
	// NodeType is "multi_party_call" or "conference_bridge".
	NodeType string `json:"node_type"`
	// CreatedOn is when the node was created.
	CreatedOn time.Time `json:"created_on"`
}

// UnmarshalJSON reads created_on in the API's own format.
func (i *NodeInfo) UnmarshalJSON(data []byte) error {
	type plain NodeInfo
	var v struct {
		*plain
		CreatedOn apiTime `json:"created_on"`
	}
	v.plain = (*plain)(i)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	i.CreatedOn = time.Time(v.CreatedOn)
	return nil
}

// ActionResponse is the reply to a successful action on a call or a member.
// A reply whose "error" field is not empty is a failure, returned as an
// [*APIError] whose Message holds the runner's text.
type ActionResponse struct {
	// APIID identifies the request.
	APIID string `json:"api_id"`
}

// Get fetches the node's details.
func (m *MultiPartyCall) Get(ctx context.Context) (*NodeInfo, error) {
	if m == nil {
		return nil, errNoClient
	}
	return m.get(ctx, multiPartyCall)
}

// Call dials p.To and adds them to the call with p.Role.
//
// Call is never sent twice once it may have reached the server, since a
// second send could dial a second call.
func (m *MultiPartyCall) Call(ctx context.Context, p CallParams) (*ActionResponse, error) {
	return m.act(ctx, "call", p)
}

// WarmTransfer transfers the call from p.TriggerSource to p.To: the two talk
// privately before the member they were talking to joins them.
// [Member.ResumeCall] and [Member.AbortTransfer] on the initiating member's
// handle complete or cancel it. Plivo does not say that it holds anyone,
// and the fake runner does not: hold the customer first if they should hear
// hold music, and unhold them afterwards, or when it fails (see the package
// documentation).
//
// It is never sent twice once it may have reached the server.
func (m *MultiPartyCall) WarmTransfer(ctx context.Context, p CallParams) (*ActionResponse, error) {
	return m.act(ctx, "warm_transfer", p)
}

// ColdTransfer connects the member to p.To, and p.TriggerSource drops out.
// It changes no one's hold.
//
// It is never sent twice once it may have reached the server.
func (m *MultiPartyCall) ColdTransfer(ctx context.Context, p CallParams) (*ActionResponse, error) {
	return m.act(ctx, "cold_transfer", p)
}

func (m *MultiPartyCall) act(ctx context.Context, action string, p CallParams) (*ActionResponse, error) {
	if m == nil {
		return nil, errNoClient
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	if err := checkEndpoint("TriggerSource", p.TriggerSource); err != nil {
		return nil, err
	}
	if err := checkEndpoint("To", p.To); err != nil {
		return nil, err
	}
	role := p.Role
	switch role {
	case "":
		role = RoleAgent
	case RoleAgent, RoleCustomer, RoleSupervisor:
	default:
		// A role the runner would refuse is refused before sending; one
		// it learns later is sent with Do until the SDK knows it.
		return nil, invalidArgument("CallParams.Role", "must be %q, %q or %q, not %q", RoleAgent, RoleCustomer, RoleSupervisor, role)
	}
	body := callAction{Action: action, TriggerSource: p.TriggerSource, To: p.To, Role: role}
	r := Request{
		Method: http.MethodPost, Path: m.path(multiPartyCall), Body: body,
		op: operation{action: action, nodeKind: multiPartyCall, to: p.To, triggerSource: p.TriggerSource},
	}
	var resp ActionResponse
	if err := m.phlo.client.do(ctx, &r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// checkEndpoint checks a phone number or SIP endpoint sent in a body.
func checkEndpoint(name, s string) error {
	if s == "" {
		return invalidArgument(name, "must not be empty")
	}
	return checkText(name, s)
}
