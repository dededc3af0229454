// Command transfer warm-transfers a call from an agent to another, then
// completes the transfer.
//
// With PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN set it acts on the real call named
// by PHLO_ID and PHLO_NODE_ID, from the agent PHLO_AGENT to PHLO_TRANSFER_TO.
// Without them it uses a fake PHLO runner in the process:
//
//	go run ./examples/transfer
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
	phloID, nodeID := os.Getenv("PHLO_ID"), os.Getenv("PHLO_NODE_ID")
	agent, to := os.Getenv("PHLO_AGENT"), os.Getenv("PHLO_TRANSFER_TO")
	show := func(string) {} // prints a member's state, which only the fake can tell

	// Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN, the runner's
	// address from PHLO_BASE_URL when it is set.
	client, err := phlo.NewRestClient("", "", phlo.WithUserAgent("phlo-example/1"))
	if errors.Is(err, phlo.ErrMissingCredentials) {
		// No credentials: use a fake runner in this process instead.
		srv := phlotest.NewServer()
		defer srv.Close()
		phloID, nodeID = "demo-phlo", "demo-node"
		agent, to = "sip:alice@phone.plivo.com", "sip:bob@phone.plivo.com"
		srv.AddMember(phloID, nodeID, agent, phlo.RoleAgent)
		srv.AddMember(phloID, nodeID, "+14155550100", phlo.RoleCustomer)
		show = func(address string) {
			m, ok := srv.Member(phloID, nodeID, address)
			fmt.Printf("  member %s: in the call=%t role=%s transferring_to=%s\n", address, ok, m.Role, m.TransferringTo)
		}
		fmt.Printf("%s is not set: using the in-process fake PHLO runner at %s\n", phlo.EnvAuthID, srv.URL)
		client, err = phlo.NewRestClient(srv.AuthID, srv.AuthToken, phlo.WithBaseURL(srv.URL), phlo.WithUserAgent("phlo-example/1"))
	}
	if err != nil {
		fail(err)
	}
	if phloID == "" || nodeID == "" || agent == "" || to == "" {
		fail(errors.New("credentials are set, so this example acts on a real call; set PHLO_ID, PHLO_NODE_ID, PHLO_AGENT, PHLO_TRANSFER_TO too"))
	}

	call := client.Phlo(phloID).MultiPartyCall(nodeID)
	resp, err := call.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: to, Role: phlo.RoleAgent})
	if err != nil {
		fail(err)
	}
	fmt.Printf("warm transfer %s -> %s: api_id=%s\n", agent, to, resp.APIID)
	show(agent)
	show(to)

	resp, err = call.Member(agent).ResumeCall(ctx)
	if err != nil {
		fail(err)
	}
	fmt.Printf("resume call %s: api_id=%s\n", agent, resp.APIID)
	show(agent)
	show(to)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
