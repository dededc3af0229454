package phlotest_test

import (
	"context"
	"fmt"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

func ExampleNewServer() {
	srv := phlotest.NewServer()
	defer srv.Close()
	srv.AddMember("phlo-1", "node-1", "+14155550100", phlo.RoleCustomer)

	member := srv.Client().Phlo("phlo-1").MultiPartyCall("node-1").Member("+14155550100")
	if _, err := member.Hold(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	state, _ := srv.Member("phlo-1", "node-1", "+14155550100")
	req := srv.Requests()[0]
	fmt.Println(state.OnHold, req.Method, req.Path, string(req.Body))
	// Output: true POST /v1/phlo/phlo-1/multi_party_call/node-1/members/+14155550100 {"action":"hold"}
}

// A fault makes the next request fail; the client retries what is safe to
// repeat.
func ExampleServer_Inject() {
	srv := phlotest.NewServer()
	defer srv.Close()
	srv.AddMember("phlo-1", "node-1", "+14155550100", phlo.RoleCustomer)
	srv.Inject(phlotest.Fault{Status: 503, Body: `{"api_id":"x","error":"busy"}`})

	member := srv.Client().Phlo("phlo-1").MultiPartyCall("node-1").Member("+14155550100")
	_, err := member.Unhold(context.Background())
	fmt.Println(err, len(srv.Requests()))
	// Output: <nil> 2
}
