// Package demo sets up the examples: a client for the real PHLO runner when
// credentials are in the environment, or for an in-process fake runner when
// they are not, so that every example runs on a fresh machine.
package demo

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// Setup is what an example works with.
type Setup struct {
	Client *phlo.RestClient
	// PhloID and NodeID name the PHLO and its multi-party call node.
	PhloID, NodeID string
	// Fake is the in-process runner, or nil against the real one.
	Fake *phlotest.Server
}

// Close releases the fake runner, if any, and the client's connections.
func (s *Setup) Close() {
	s.Client.CloseIdleConnections()
	if s.Fake != nil {
		s.Fake.Close()
	}
}

// Connect reads PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN and the variables named
// in need (besides PHLO_ID and, with node, PHLO_NODE_ID). With no
// credentials it starts the fake runner and calls seed to fill it; the
// variables in need then take the defaults given.
func Connect(node bool, need map[string]string, seed func(s *Setup, vars map[string]string)) (*Setup, map[string]string, error) {
	vars := map[string]string{}
	if os.Getenv(phlo.EnvAuthID) == "" && os.Getenv(phlo.EnvAuthToken) == "" {
		fake := phlotest.NewServer()
		s := &Setup{Client: fake.Client(phlo.WithUserAgent("phlo-example/1")), PhloID: "demo-phlo", NodeID: "demo-node", Fake: fake}
		for k, v := range need {
			vars[k] = v
		}
		fmt.Printf("%s is not set: using the in-process fake PHLO runner at %s\n", phlo.EnvAuthID, fake.URL)
		fake.AddPhlo(s.PhloID, "Demo PHLO")
		fake.AddNode(s.PhloID, s.NodeID, "Demo multi-party call")
		if seed != nil {
			seed(s, vars)
		}
		return s, vars, nil
	}

	names := []string{"PHLO_ID"}
	if node {
		names = append(names, "PHLO_NODE_ID")
	}
	names = append(names, slices.Sorted(maps.Keys(need))...)
	var missing []string
	for _, name := range names {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		vars[name] = v
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("credentials are set, so this example acts on a real call; set %s too (or unset %s and %s to use the fake runner)",
			strings.Join(missing, ", "), phlo.EnvAuthID, phlo.EnvAuthToken)
	}
	opts := []phlo.Option{phlo.WithUserAgent("phlo-example/1")}
	if base := os.Getenv("PHLO_BASE_URL"); base != "" {
		opts = append(opts, phlo.WithBaseURL(base))
	}
	client, err := phlo.NewRestClient("", "", opts...)
	if err != nil {
		return nil, nil, err
	}
	return &Setup{Client: client, PhloID: vars["PHLO_ID"], NodeID: vars["PHLO_NODE_ID"]}, vars, nil
}

// PrintMember prints a member's state in the fake runner; against the real
// runner there is no state to read.
func (s *Setup) PrintMember(address string) {
	if s.Fake == nil {
		return
	}
	m, ok := s.Fake.Member(s.PhloID, s.NodeID, address)
	if !ok {
		fmt.Printf("  member %s: not in the call\n", address)
		return
	}
	fmt.Printf("  member %s: role=%s on_hold=%t", m.Address, m.Role, m.OnHold)
	if m.TransferringTo != "" {
		fmt.Printf(" transferring_to=%s", m.TransferringTo)
	}
	fmt.Println()
}

// Fail prints err on stderr and exits with status 1.
func Fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
