// Command hold puts a member of a multi-party call on hold and takes them off
// again.
//
// With PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN set it acts on the real call named
// by PHLO_ID, PHLO_NODE_ID and PHLO_MEMBER. Without them it starts a fake
// PHLO runner in the process, adds a member, and acts on that:
//
//	go run ./examples/hold
//
// To use it in a service, copy it and delete the block that starts the fake.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phloID, nodeID, address := os.Getenv("PHLO_ID"), os.Getenv("PHLO_NODE_ID"), os.Getenv("PHLO_MEMBER")
	show := func(string) {} // prints a member's state, which only the fake can tell

	// Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN, the runner's
	// address from PHLO_BASE_URL when it is set.
	client, err := phlo.NewRestClient("", "", phlo.WithUserAgent("phlo-example/1"))
	if errors.Is(err, phlo.ErrMissingCredentials) {
		// No credentials: use a fake runner in this process instead.
		srv := phlotest.NewServer()
		defer srv.Close()
		phloID, nodeID, address = "demo-phlo", "demo-node", "+14155550100"
		srv.AddMember(phloID, nodeID, address, phlo.RoleCustomer)
		show = func(address string) {
			m, ok := srv.Member(phloID, nodeID, address)
			fmt.Printf("  member %s: in the call=%t role=%s on_hold=%t\n", address, ok, m.Role, m.OnHold)
		}
		fmt.Printf("%s is not set: using the in-process fake PHLO runner at %s\n", phlo.EnvAuthID, srv.URL)
		client, err = phlo.NewRestClient(srv.AuthID, srv.AuthToken, phlo.WithBaseURL(srv.URL), phlo.WithUserAgent("phlo-example/1"))
	}
	if err != nil {
		fail(err)
	}
	if phloID == "" || nodeID == "" || address == "" {
		fail(errors.New("credentials are set, so this example acts on a real call; set PHLO_ID, PHLO_NODE_ID, PHLO_MEMBER too"))
	}

	member := client.Phlo(phloID).MultiPartyCall(nodeID).Member(address)
	show(address)
	resp, err := member.Hold(ctx)
	if err != nil {
		fail(err)
	}
	fmt.Printf("hold %s: api_id=%s\n", address, resp.APIID)
	show(address)

	resp, err = member.Unhold(ctx)
	if err != nil {
		fail(err)
	}
	fmt.Printf("unhold %s: api_id=%s\n", address, resp.APIID)
	show(address)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
