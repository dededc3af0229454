// Command transfer hands a customer from one agent to another with a warm
// transfer: the customer waits on hold while the first agent talks to the
// second, then the first agent completes the transfer and the customer is
// taken off hold. If the transfer provably did not happen, the customer is
// taken off hold at once, so that nobody is left listening to hold music; if
// it may have started, it is aborted first.
//
// With PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN set it acts on the call named by
// PHLO_ID and PHLO_NODE_ID, with the agent PHLO_AGENT, the customer
// PHLO_CUSTOMER and the agent to transfer to PHLO_TRANSFER_TO, on the runner
// PHLO_BASE_URL names (Plivo's when it is not set). Without them it uses a
// fake PHLO runner in the process:
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
	"strings"
	"time"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phloID, nodeID := os.Getenv("PHLO_ID"), os.Getenv("PHLO_NODE_ID")
	agent, customer, to := os.Getenv("PHLO_AGENT"), os.Getenv("PHLO_CUSTOMER"), os.Getenv("PHLO_TRANSFER_TO")
	show := func(string) {} // prints a member's state, which only the fake can tell

	// Credentials come from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN, the runner's
	// address from PHLO_BASE_URL when it is set.
	client, err := phlo.NewRestClient("", "", phlo.WithUserAgent("phlo-example/1"))
	fake := errors.Is(err, phlo.ErrMissingCredentials)
	if fake {
		// No credentials: use a fake runner in this process instead, but
		// only when none of the runner's variables is set, so that a typo
		// in one never silently tests the fake.
		if err := onlyFakeWithNothingSet(); err != nil {
			fail(err)
		}
		srv := phlotest.NewServer()
		defer srv.Close()
		phloID, nodeID = "demo-phlo", "demo-node"
		agent, customer, to = "sip:alice@phone.plivo.com", "+14155550100", "sip:bob@phone.plivo.com"
		srv.AddMember(phloID, nodeID, agent, phlo.RoleAgent)
		srv.AddMember(phloID, nodeID, customer, phlo.RoleCustomer)
		show = func(address string) {
			m, ok := srv.Member(phloID, nodeID, address)
			fmt.Printf("  %s: in the call=%t role=%s on_hold=%t transferring_to=%s\n", address, ok, m.Role, m.OnHold, m.TransferringTo)
		}
		fmt.Printf("%s and %s are not set: ", phlo.EnvAuthID, phlo.EnvAuthToken)
		client, err = phlo.NewRestClient(srv.AuthID, srv.AuthToken, phlo.WithBaseURL(srv.URL), phlo.WithUserAgent("phlo-example/1"))
	}
	if err != nil {
		fail(err)
	}
	fmt.Println("acting on " + describeRunner(client, fake))
	if phloID == "" || nodeID == "" || agent == "" || customer == "" || to == "" {
		fail(errors.New("credentials are set, so this example acts on a call of that runner; set PHLO_ID, PHLO_NODE_ID, PHLO_AGENT, PHLO_CUSTOMER, PHLO_TRANSFER_TO too"))
	}

	call := client.Phlo(phloID).MultiPartyCall(nodeID)
	show(agent)
	show(customer)

	// The runner does not say that a warm transfer holds the customer:
	// hold them first, so that they hear music rather than silence.
	if _, err := call.Member(customer).Hold(ctx); err != nil {
		fail(err)
	}
	fmt.Printf("hold %s\n", customer)
	show(customer)

	resp, err := call.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: to, Role: phlo.RoleAgent})
	if err != nil {
		compensate(ctx, call, agent, customer, err)
		show(customer)
		fail(err)
	}
	fmt.Printf("warm transfer %s -> %s: api_id=%s\n", agent, to, resp.APIID)
	show(agent)
	show(to)

	// ... the two agents talk; then the first completes the transfer.
	if _, err := call.Member(agent).ResumeCall(ctx); err != nil {
		unhold(ctx, call.Member(customer))
		fail(err)
	}
	fmt.Printf("resume call %s\n", agent)
	if _, err := call.Member(customer).Unhold(ctx); err != nil {
		fail(err)
	}
	fmt.Printf("unhold %s\n", customer)
	show(agent)
	show(customer)
	show(to)
}

// compensate undoes the hold after the warm transfer failed with err, in the
// one safe order. A transfer that did not happen (ErrNotSent, a 4xx reply,
// bad input) leaves the customer waiting for nothing: unhold them at once.
// One whose outcome is unknown may be ringing the other agent: abort it
// first, and unhold only once the runner has cancelled it or said that none
// is in progress (a 4xx reply); if even that is unknown, the customer stays
// on hold and the agent is told to check the call.
func compensate(ctx context.Context, call *phlo.MultiPartyCall, agent, customer string, err error) {
	if errors.Is(err, phlo.ErrOutcomeUnknown) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, aerr := call.Member(agent).AbortTransfer(actx)
		var apiErr *phlo.APIError
		if aerr != nil && (errors.Is(aerr, phlo.ErrOutcomeUnknown) || !errors.As(aerr, &apiErr)) {
			fmt.Fprintf(os.Stderr, "the transfer may be in progress and could not be aborted, so %s stays on hold: check the call: %v\n", customer, aerr)
			return
		}
		fmt.Printf("the transfer may have started: abort transfer %s\n", agent)
	}
	unhold(ctx, call.Member(customer))
}

// unhold takes the customer off hold after a transfer failed. It runs even
// when ctx has ended (the failure may be that very deadline), with a bound
// of its own, and says so if it cannot: a customer left on hold is worse
// than an error in the log.
func unhold(ctx context.Context, customer *phlo.Member) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := customer.Unhold(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "the transfer failed and %s may still be on hold: %v\n", customer.Address(), err)
		return
	}
	fmt.Printf("the transfer failed: unhold %s\n", customer.Address())
}

// onlyFakeWithNothingSet refuses the fake when only some of the runner's
// variables are set: the user meant a real runner and mistyped or forgot one,
// and says which one is missing.
func onlyFakeWithNothingSet() error {
	id, token, base := os.Getenv(phlo.EnvAuthID) != "", os.Getenv(phlo.EnvAuthToken) != "", os.Getenv(phlo.EnvBaseURL) != ""
	switch {
	case id && !token:
		return fmt.Errorf("%s is set but %s is not: set both to act on a real call, or neither to use the fake", phlo.EnvAuthID, phlo.EnvAuthToken)
	case token && !id:
		return fmt.Errorf("%s is set but %s is not: set both to act on a real call, or neither to use the fake", phlo.EnvAuthToken, phlo.EnvAuthID)
	case base:
		return fmt.Errorf("%s is set but %s and %s are not: set them to act on that runner, or unset %s to use the fake",
			phlo.EnvBaseURL, phlo.EnvAuthID, phlo.EnvAuthToken, phlo.EnvBaseURL)
	}
	return nil
}

// describeRunner says which runner the client acts on, so that a run
// against a fake is never taken for a real call.
func describeRunner(client *phlo.RestClient, fake bool) string {
	base := strings.TrimSuffix(client.BaseURL(), "/v1")
	switch {
	case fake:
		return "the fake PHLO runner in this process, at " + base
	case base == phlo.DefaultBaseURL:
		return "Plivo's PHLO runner, at " + base + ": real calls"
	}
	return "the PHLO runner at " + base + " (" + phlo.EnvBaseURL + "), not Plivo's"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
