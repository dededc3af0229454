package phlotest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/phlogo/phlo"
)

// State is the whole model of a server: what GET /__phlo/state answers,
// what WithState starts from, and what `phlo serve --seed` reads. Its JSON
// form is
//
//	{"phlos":[{"phlo_id","name",
//	  "multi_party_calls":[{"node_id","name","members":[{"address","role","on_hold","transferring_to"}]}],
//	  "conference_bridges":[{"node_id","name","members":[{"address","muted"}]}],
//	  "runs":[{"run_id","payload"}]}]}
//
// with arrays never null in what the server answers: PHLOs and nodes sorted
// by ID, members in the order they joined, runs oldest first.
type State struct {
	Phlos []PhloState `json:"phlos"`
}

// PhloState is a PHLO in a [State].
type PhloState struct {
	PhloID            string        `json:"phlo_id"`
	Name              string        `json:"name"`
	MultiPartyCalls   []CallState   `json:"multi_party_calls"`
	ConferenceBridges []BridgeState `json:"conference_bridges"`
	Runs              []RunState    `json:"runs"`
}

// CallState is a multi-party call node in a [State].
type CallState struct {
	NodeID  string        `json:"node_id"`
	Name    string        `json:"name"`
	Members []MemberState `json:"members"`
}

// BridgeState is a conference bridge node in a [State].
type BridgeState struct {
	NodeID  string              `json:"node_id"`
	Name    string              `json:"name"`
	Members []BridgeMemberState `json:"members"`
}

// RunState is a PHLO run in a [State]: GET /v1/phlo/{phlo_id}/runs/{run_id}
// answers it. Payload is the JSON value the run was started with; empty
// means {}. A payload the server cut at MaxRecordedBody, no longer valid
// JSON, is shown as a JSON string of what was kept.
type RunState struct {
	RunID   string          `json:"run_id"`
	Payload json.RawMessage `json:"payload"`
}

// State returns the server's whole model.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.snapshot()
	for _, p := range st.Phlos {
		for i := range p.Runs {
			p.Runs[i].Payload = slices.Clone(p.Runs[i].Payload)
		}
	}
	return st
}

// snapshot is the whole model, sharing the run payloads with it, which
// are never changed. The caller holds mu.
func (s *Server) snapshot() State {
	st := State{Phlos: []PhloState{}}
	for _, id := range slices.Sorted(maps.Keys(s.phlos)) {
		st.Phlos = append(st.Phlos, s.phloState(id, s.phlos[id]))
	}
	return st
}

// phloState is the PHLO p, named id, as a [State] shows it, sharing the
// run payloads with the model. The caller holds mu.
func (s *Server) phloState(id string, p *phloModel) PhloState {
	ps := PhloState{PhloID: id, Name: p.name, MultiPartyCalls: []CallState{}, ConferenceBridges: []BridgeState{}, Runs: []RunState{}}
	for _, nid := range slices.Sorted(maps.Keys(p.calls)) {
		ps.MultiPartyCalls = append(ps.MultiPartyCalls, callState(nid, p.calls[nid]))
	}
	for _, nid := range slices.Sorted(maps.Keys(p.bridges)) {
		ps.ConferenceBridges = append(ps.ConferenceBridges, bridgeState(nid, p.bridges[nid]))
	}
	for _, r := range s.runs {
		if r.PhloID == id {
			ps.Runs = append(ps.Runs, RunState{r.RunID, shownPayload(r.Payload)})
		}
	}
	return ps
}

func callState(id string, n *node[MemberState]) CallState {
	return CallState{id, n.name, n.states()}
}

func bridgeState(id string, n *node[BridgeMemberState]) BridgeState {
	return BridgeState{id, n.name, n.states()}
}

// shownPayload is a run's payload as valid JSON: as it is, or, cut short,
// as a JSON string of what was kept.
func shownPayload(p json.RawMessage) json.RawMessage {
	if json.Valid(p) {
		return p
	}
	data, _ := json.Marshal(string(p)) // a string always marshals
	return data
}

// load replaces the model with st, which is valid. The caller holds mu, or
// owns s alone.
func (s *Server) load(st State) {
	s.phlos = make(map[string]*phloModel, len(st.Phlos))
	s.memberCount = 0
	s.runs, s.runBytes = nil, 0
	for _, ps := range st.Phlos {
		p := s.phlo(ps.PhloID)
		p.name = cmp.Or(ps.Name, p.name)
		for _, cs := range ps.MultiPartyCalls {
			n := calls.node(s, ps.PhloID, cs.NodeID)
			n.name = cmp.Or(cs.Name, n.name)
			for _, m := range cs.Members {
				m.Role = cmp.Or(m.Role, phlo.RoleAgent)
				n.add(m)
			}
		}
		for _, bs := range ps.ConferenceBridges {
			n := bridges.node(s, ps.PhloID, bs.NodeID)
			n.name = cmp.Or(bs.Name, n.name)
			for _, m := range bs.Members {
				n.add(m)
			}
		}
		for _, r := range ps.Runs {
			payload := slices.Clone(r.Payload)
			if len(payload) == 0 {
				payload = json.RawMessage(`{}`)
			}
			s.addRun(Run{PhloID: ps.PhloID, RunID: r.RunID, Payload: payload})
		}
	}
}

// clone returns a copy of st that shares no memory with it.
func (st State) clone() State {
	data, _ := json.Marshal(st) // a valid state always marshals
	var out State
	json.Unmarshal(data, &out)
	return out
}

// fieldError is an invalid value in a [State] or a control request, at a
// path such as phlos[0].multi_party_calls[1].members[2].role.
type fieldError struct {
	path, problem string
}

func (e *fieldError) Error() string { return e.path + ": " + e.problem }

// validate reports the first value in st the server could not have
// reached: an ID or address that is empty, too long or repeated, an
// unknown role, a transfer to no member, or more than a cap allows.
func (st State) validate() error {
	if len(st.Phlos) > MaxPhlos {
		return &fieldError{"phlos", fmt.Sprintf("more than MaxPhlos (%d)", MaxPhlos)}
	}
	v := validator{phlos: map[string]bool{}}
	for i, p := range st.Phlos {
		if err := v.phlo(fmt.Sprintf("phlos[%d]", i), p); err != nil {
			return err
		}
	}
	return nil
}

// validator keeps the counts and IDs seen so far in a [State].
type validator struct {
	phlos         map[string]bool
	members, runs int
	runBytes      int
}

func (v *validator) phlo(at string, p PhloState) error {
	if err := checkID(at+".phlo_id", p.PhloID, v.phlos); err != nil {
		return err
	}
	if err := checkName(at+".name", p.Name); err != nil {
		return err
	}
	if len(p.MultiPartyCalls)+len(p.ConferenceBridges) > MaxNodesPerPhlo {
		return &fieldError{at, fmt.Sprintf("more than MaxNodesPerPhlo (%d) nodes", MaxNodesPerPhlo)}
	}
	seen := map[string]bool{}
	for i, n := range p.MultiPartyCalls {
		if err := v.call(fmt.Sprintf("%s.multi_party_calls[%d]", at, i), n, seen); err != nil {
			return err
		}
	}
	seen = map[string]bool{}
	for i, n := range p.ConferenceBridges {
		if err := v.bridge(fmt.Sprintf("%s.conference_bridges[%d]", at, i), n, seen); err != nil {
			return err
		}
	}
	seen = map[string]bool{}
	for i, r := range p.Runs {
		if err := v.run(fmt.Sprintf("%s.runs[%d]", at, i), p.PhloID, r, seen); err != nil {
			return err
		}
	}
	return nil
}

func (v *validator) call(at string, n CallState, ids map[string]bool) error {
	if err := v.node(at, n.NodeID, n.Name, len(n.Members), ids); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, m := range n.Members {
		mat := fmt.Sprintf("%s.members[%d]", at, i)
		if err := checkAddress(mat+".address", m.Address, seen); err != nil {
			return err
		}
		if m.Role != "" && !validRole(m.Role) {
			return &fieldError{mat + ".role", fmt.Sprintf("unknown role %q", m.Role)}
		}
	}
	for i, m := range n.Members {
		if m.TransferringTo != "" && (m.TransferringTo == m.Address || !seen[m.TransferringTo]) {
			return &fieldError{fmt.Sprintf("%s.members[%d].transferring_to", at, i), fmt.Sprintf("%q is not another member of the call", m.TransferringTo)}
		}
	}
	return nil
}

func (v *validator) bridge(at string, n BridgeState, ids map[string]bool) error {
	if err := v.node(at, n.NodeID, n.Name, len(n.Members), ids); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, m := range n.Members {
		if err := checkAddress(fmt.Sprintf("%s.members[%d].address", at, i), m.Address, seen); err != nil {
			return err
		}
	}
	return nil
}

// node checks what nodes of both kinds have: an ID, a name and the caps on
// members.
func (v *validator) node(at, id, name string, members int, ids map[string]bool) error {
	if err := checkID(at+".node_id", id, ids); err != nil {
		return err
	}
	if err := checkName(at+".name", name); err != nil {
		return err
	}
	if members > MaxMembersPerNode {
		return &fieldError{at + ".members", fmt.Sprintf("more than MaxMembersPerNode (%d)", MaxMembersPerNode)}
	}
	if v.members += members; v.members > MaxMembers {
		return &fieldError{at + ".members", fmt.Sprintf("more than MaxMembers (%d) in all", MaxMembers)}
	}
	return nil
}

func (v *validator) run(at, phloID string, r RunState, ids map[string]bool) error {
	if err := checkID(at+".run_id", r.RunID, ids); err != nil {
		return err
	}
	switch {
	case len(r.Payload) > MaxRecordedBody:
		return &fieldError{at + ".payload", fmt.Sprintf("longer than MaxRecordedBody (%d bytes)", MaxRecordedBody)}
	case len(r.Payload) > 0 && !json.Valid(r.Payload):
		return &fieldError{at + ".payload", "not valid JSON"}
	}
	v.runs++
	v.runBytes += runSize(Run{PhloID: phloID, RunID: r.RunID, Payload: r.Payload}) + len(`{}`)
	switch {
	case v.runs > MaxRuns:
		return &fieldError{at, fmt.Sprintf("more than MaxRuns (%d) in all", MaxRuns)}
	case v.runBytes > MaxRunBytes:
		return &fieldError{at, fmt.Sprintf("runs past MaxRunBytes (%d) in all", MaxRunBytes)}
	}
	return nil
}
