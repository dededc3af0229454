// Command transfer warm-transfers a call from an agent to another, then
// completes the transfer.
//
// With PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN set it acts on the real call named
// by PHLO_ID and PHLO_NODE_ID, from the agent PHLO_AGENT to PHLO_TRANSFER_TO.
// Without them it uses a fake PHLO runner in the process:
//
//	go run ./examples/transfer
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/examples/internal/demo"
)

func main() {
	need := map[string]string{"PHLO_AGENT": "sip:alice@phone.plivo.com", "PHLO_TRANSFER_TO": "sip:bob@phone.plivo.com"}
	setup, vars, err := demo.Connect(true, need, func(s *demo.Setup, vars map[string]string) {
		s.Fake.AddMember(s.PhloID, s.NodeID, vars["PHLO_AGENT"], phlo.RoleAgent)
		s.Fake.AddMember(s.PhloID, s.NodeID, "+14155550100", phlo.RoleCustomer)
	})
	if err != nil {
		demo.Fail(err)
	}
	defer setup.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	agent, to := vars["PHLO_AGENT"], vars["PHLO_TRANSFER_TO"]
	call := setup.Client.Phlo(setup.PhloID).MultiPartyCall(setup.NodeID)

	resp, err := call.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: to, Role: phlo.RoleAgent})
	if err != nil {
		demo.Fail(err)
	}
	fmt.Printf("warm transfer %s -> %s: api_id=%s\n", agent, to, resp.APIID)
	setup.PrintMember(agent)
	setup.PrintMember(to)

	resp, err = call.Member(agent).ResumeCall(ctx)
	if err != nil {
		demo.Fail(err)
	}
	fmt.Printf("resume call %s: api_id=%s\n", agent, resp.APIID)
	setup.PrintMember(agent)
	setup.PrintMember(to)
}
