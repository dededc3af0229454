package phlotest

import (
	"fmt"
	"net/http"
)

// Caps on the model, so that its memory stays bounded whatever clients do.
// A runner call or transfer, or a control request, that would pass one is
// refused with 409 and an error naming the cap; WithState refuses a state
// past one. The methods a Go test calls (AddMember and the others) are the
// test's own and are not held to them.
const (
	// MaxPhlos is how many PHLOs the server holds.
	MaxPhlos = 1_000
	// MaxNodesPerPhlo is how many nodes, of both kinds, a PHLO holds.
	MaxNodesPerPhlo = 100
	// MaxMembersPerNode is how many members a node holds.
	MaxMembersPerNode = 1_000
	// MaxMembers is how many members every node together holds: without
	// it the caps above would allow 100 million, and with it a server's
	// model stays within a few MiB.
	MaxMembers = 20_000
	// MaxAddressBytes is the longest member address, in bytes.
	MaxAddressBytes = 256
	// MaxIDBytes is the longest PHLO, node or run ID, in bytes.
	MaxIDBytes = 256
	// MaxNameBytes is the longest PHLO or node name, in bytes.
	MaxNameBytes = 256
)

// Bounds of the runs kept.
const (
	// MaxRuns is how many runs the server keeps, the newest.
	MaxRuns = 1_000
	// MaxRunBytes bounds the memory of the runs kept, payloads included:
	// the oldest are forgotten first, so that the newest fit. With the
	// journal's MaxRecordedBytes and the model's caps, it keeps a server's
	// resident memory under 150 MiB at Go's default GOGC.
	MaxRunBytes = 8 << 20
)

// errCap is the 409 of a request that would pass the cap name, of limit.
func errCap(name string, limit int, what string) error {
	return fail(http.StatusConflict, fmt.Sprintf("%s (%d) reached: %s.", name, limit, what))
}

// roomFor reports whether a node with members members can take a new one
// at address, or which cap it would pass. The caller holds mu.
func roomFor(s *Server, members int, address string) error {
	switch {
	case len(address) > MaxAddressBytes:
		return errCap("MaxAddressBytes", MaxAddressBytes, "the address is too long")
	case members >= MaxMembersPerNode:
		return errCap("MaxMembersPerNode", MaxMembersPerNode, "the node is full")
	case s.memberCount >= MaxMembers:
		return errCap("MaxMembers", MaxMembers, "the server holds as many members as it may")
	}
	return nil
}

// checkID checks a PHLO, node or run ID at path, and that seen does not
// hold it yet; it adds it to seen.
func checkID(path, id string, seen map[string]bool) error {
	switch {
	case id == "" || id == "." || id == "..":
		return &fieldError{path, fmt.Sprintf("%q is not an ID", id)}
	case len(id) > MaxIDBytes:
		return &fieldError{path, fmt.Sprintf("longer than MaxIDBytes (%d)", MaxIDBytes)}
	case seen[id]:
		return &fieldError{path, fmt.Sprintf("%q is repeated", id)}
	}
	seen[id] = true
	return nil
}

// checkAddress checks a member address at path as checkID checks an ID.
func checkAddress(path, address string, seen map[string]bool) error {
	switch {
	case address == "" || address == "." || address == "..":
		return &fieldError{path, fmt.Sprintf("%q is not an address", address)}
	case len(address) > MaxAddressBytes:
		return &fieldError{path, fmt.Sprintf("longer than MaxAddressBytes (%d)", MaxAddressBytes)}
	case seen[address]:
		return &fieldError{path, fmt.Sprintf("%q is repeated", address)}
	}
	seen[address] = true
	return nil
}

// checkName checks a PHLO or node name at path.
func checkName(path, name string) error {
	if len(name) > MaxNameBytes {
		return &fieldError{path, fmt.Sprintf("longer than MaxNameBytes (%d)", MaxNameBytes)}
	}
	return nil
}
