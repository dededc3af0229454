package phlo_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// Holding a member is one request, from the IDs alone.
func ExampleMember_Hold() {
	runner := phlotest.NewServer() // stands in for the PHLO runner
	defer runner.Close()
	runner.AddMember("support-phlo", "mpc-1", "+14155550100", phlo.RoleCustomer)

	client, err := phlo.NewRestClient(runner.AuthID, runner.AuthToken, phlo.WithBaseURL(runner.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()

	member := client.Phlo("support-phlo").MultiPartyCall("mpc-1").Member("+14155550100")
	if _, err := member.Hold(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	state, _ := runner.Member("support-phlo", "mpc-1", "+14155550100")
	fmt.Println("on hold:", state.OnHold, "requests:", len(runner.Requests()))
	// Output: on hold: true requests: 1
}

func ExampleMultiPartyCall_WarmTransfer() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddMember("support-phlo", "mpc-1", "sip:alice@phone.plivo.com", phlo.RoleAgent)
	runner.AddMember("support-phlo", "mpc-1", "+14155550100", phlo.RoleCustomer)
	call := runner.Client().Phlo("support-phlo").MultiPartyCall("mpc-1")
	ctx := context.Background()

	_, err := call.WarmTransfer(ctx, phlo.CallParams{
		TriggerSource: "sip:alice@phone.plivo.com",
		To:            "sip:bob@phone.plivo.com",
		Role:          phlo.RoleAgent,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	alice, _ := runner.Member("support-phlo", "mpc-1", "sip:alice@phone.plivo.com")
	fmt.Println("alice transferring to:", alice.TransferringTo)

	if _, err := call.Member("sip:alice@phone.plivo.com").ResumeCall(ctx); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range runner.Members("support-phlo", "mpc-1") {
		fmt.Println(m.Address, m.Role)
	}
	// Output:
	// alice transferring to: sip:bob@phone.plivo.com
	// sip:alice@phone.plivo.com agent
	// +14155550100 customer
	// sip:bob@phone.plivo.com agent
}

func ExamplePhlo_Run() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddPhlo("outbound-phlo", "Outbound campaign")
	p := runner.Client().Phlo("outbound-phlo")

	res, err := p.Run(context.Background(), map[string]any{"from": "+14155550100", "to": "+14155550111"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Message)
	fmt.Println("payload:", string(runner.Runs("outbound-phlo")[0].Payload))
	// Output:
	// PHLO run initiated.
	// payload: {"from":"+14155550100","to":"+14155550111"}
}

// Failures are inspected with errors.Is for their class and errors.As for
// the details.
func ExampleAPIError() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddNode("support-phlo", "mpc-1", "Support call")
	member := runner.Client().Phlo("support-phlo").MultiPartyCall("mpc-1").Member("+14155550199")

	_, err := member.Hangup(context.Background())
	if errors.Is(err, phlo.ErrNotFound) {
		fmt.Println("no such member")
	}
	var apiErr *phlo.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}
	// Output:
	// no such member
	// 404 member not found.
}

// Bad input is refused before anything is sent.
func ExampleArgumentError() {
	client, _ := phlo.NewRestClient("MAXXXXXXXXXXXXXXXXXX", "token")
	_, err := client.Phlo("support-phlo").MultiPartyCall("mpc-1").Member("..").Hold(context.Background())
	var argErr *phlo.ArgumentError
	if errors.As(err, &argErr) {
		fmt.Println(argErr.Name, argErr.Reason, errors.Is(err, phlo.ErrInvalidArgument))
	}
	// Output: address must not be ".." true
}

// Do reaches an endpoint the SDK does not wrap, through the same request
// path as every action.
func ExampleRestClient_Do() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddPhlo("support-phlo", "Support")
	client := runner.Client()

	var out struct {
		Name string `json:"name"`
	}
	err := client.Do(context.Background(), phlo.Request{Method: "GET", Path: []string{"phlo", "support-phlo"}}, &out)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Name, runner.Requests()[0].Path)
	// Output: Support /v1/phlo/support-phlo
}

func ExampleMultiPartyCall_Call() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddMember("support-phlo", "mpc-1", "sip:alice@phone.plivo.com", phlo.RoleAgent)
	call := runner.Client().Phlo("support-phlo").MultiPartyCall("mpc-1")

	// Alice dials a supervisor into the call.
	_, err := call.Call(context.Background(), phlo.CallParams{
		TriggerSource: "sip:alice@phone.plivo.com",
		To:            "+14155550123",
		Role:          phlo.RoleSupervisor,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := runner.Member("support-phlo", "mpc-1", "+14155550123")
	fmt.Println(m.Address, m.Role)
	fmt.Println(string(runner.Requests()[0].Body))
	// Output:
	// +14155550123 supervisor
	// {"action":"call","trigger_source":"sip:alice@phone.plivo.com","to":"+14155550123","role":"supervisor"}
}

func ExampleMultiPartyCall_Get() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddNode("support-phlo", "mpc-1", "Support call")

	node, err := runner.Client().Phlo("support-phlo").MultiPartyCall("mpc-1").Get(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(node.Name, node.NodeType, !node.CreatedOn.IsZero())
	// Output: Support call multi_party_call true
}

func ExamplePhlo_GetRun() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddPhlo("outbound-phlo", "Outbound campaign")
	p := runner.Client().Phlo("outbound-phlo")
	ctx := context.Background()

	res, err := p.Run(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	run, err := p.GetRun(ctx, res.RunID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.RunID == res.RunID, run.PhloID, len(run.CallUUIDs))
	// Output: true outbound-phlo 0
}

func ExampleMember_Hangup() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddMember("support-phlo", "mpc-1", "+14155550100", phlo.RoleCustomer)
	member := runner.Client().Phlo("support-phlo").MultiPartyCall("mpc-1").Member("+14155550100")

	if _, err := member.Hangup(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	_, inCall := runner.Member("support-phlo", "mpc-1", "+14155550100")
	fmt.Println("in the call:", inCall)
	// Output: in the call: false
}

// Mute a member of a conference bridge, against the fake runner.
func ExampleBridgeMember_Mute() {
	srv := phlotest.NewServer()
	defer srv.Close()
	srv.AddBridgeMember("phlo-1", "bridge-1", "+14155550100")

	member := srv.Client().Phlo("phlo-1").ConferenceBridge("bridge-1").Member("+14155550100")
	if _, err := member.Mute(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	state, _ := srv.BridgeMember("phlo-1", "bridge-1", "+14155550100")
	req := srv.Requests()[0]
	fmt.Println(state.Muted, req.Method, req.Path, string(req.Body))
	// Output: true POST /v1/phlo/phlo-1/conference_bridge/bridge-1/members/+14155550100 {"action":"mute"}
}

// With WithMaskedAddresses, an error shows no member's phone number: every
// character but the last four reads '*'. WithLogger's records are masked
// the same way; what is sent is unchanged.
func ExampleWithMaskedAddresses() {
	runner := phlotest.NewServer()
	defer runner.Close()
	client, err := runner.NewClient(phlo.WithMaskedAddresses())
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = client.Phlo("support-phlo").MultiPartyCall("mpc-1").Member("+14155550100").Hold(context.Background())
	var apiErr *phlo.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Path)
	}
	// Output: 404 /v1/phlo/support-phlo/multi_party_call/mpc-1/members/********0100
}
