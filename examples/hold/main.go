// Command hold puts a member of a multi-party call on hold and takes them off
// again.
//
// With PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN set it acts on the real call named
// by PHLO_ID, PHLO_NODE_ID and PHLO_MEMBER. Without them it starts a fake
// PHLO runner in the process, adds a member, and acts on that:
//
//	go run ./examples/hold
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/examples/internal/demo"
)

func main() {
	setup, vars, err := demo.Connect(true, map[string]string{"PHLO_MEMBER": "+14155550100"}, func(s *demo.Setup, vars map[string]string) {
		s.Fake.AddMember(s.PhloID, s.NodeID, vars["PHLO_MEMBER"], phlo.RoleCustomer)
	})
	if err != nil {
		demo.Fail(err)
	}
	defer setup.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	address := vars["PHLO_MEMBER"]
	member := setup.Client.Phlo(setup.PhloID).MultiPartyCall(setup.NodeID).Member(address)
	setup.PrintMember(address)

	resp, err := member.Hold(ctx)
	if err != nil {
		demo.Fail(err)
	}
	fmt.Printf("hold %s: api_id=%s\n", address, resp.APIID)
	setup.PrintMember(address)

	resp, err = member.Unhold(ctx)
	if err != nil {
		demo.Fail(err)
	}
	fmt.Printf("unhold %s: api_id=%s\n", address, resp.APIID)
	setup.PrintMember(address)
}
