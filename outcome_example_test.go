package phlo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phlogo/phlo"
	"github.com/phlogo/phlo/phlotest"
)

// transfer is what a contact-centre service runs when an agent clicks
// "transfer": it starts a warm transfer and says what happened, without
// ever dialling twice.
func transfer(ctx context.Context, call *phlo.MultiPartyCall, agent, to string) string {
	_, err := call.WarmTransfer(ctx, phlo.CallParams{TriggerSource: agent, To: to, Role: phlo.RoleAgent})
	var apiErr *phlo.APIError
	switch {
	case err == nil:
		return "transferring to " + to
	case errors.Is(err, phlo.ErrOutcomeUnknown):
		// The runner may be dialling: dialling again could ring a second
		// call, and unholding the customer now could join them to it.
		// Abort the transfer first (AbortTransfer), then unhold.
		return "the transfer may be in progress: abort it before taking the customer off hold or trying again"
	case errors.Is(err, phlo.ErrNotSent):
		// Nothing reached the runner, even after the SDK's own retries:
		// the customer can come off hold at once.
		return "the transfer did not start: try again"
	case errors.As(err, &apiErr):
		// A 4xx (every 5xx matched ErrOutcomeUnknown): nothing happened.
		return "the runner refused the transfer: " + apiErr.Message
	}
	return "the transfer was not sent: " + err.Error() // bad input
}

// The runner performs the transfer, then the connection drops before its
// reply: the agent is told that the transfer may be in progress, which it
// is, and the transfer went out once.
func ExampleMultiPartyCall_WarmTransfer_outcomeUnknown() {
	runner := phlotest.NewServer()
	defer runner.Close()
	runner.AddMember("support-phlo", "mpc-1", "sip:alice@phone.plivo.com", phlo.RoleAgent)
	runner.AddMember("support-phlo", "mpc-1", "+14155550100", phlo.RoleCustomer)
	runner.Inject(phlotest.Fault{Drop: true, Apply: true})
	call := runner.Client().Phlo("support-phlo").MultiPartyCall("mpc-1")

	fmt.Println(transfer(context.Background(), call, "sip:alice@phone.plivo.com", "sip:bob@phone.plivo.com"))
	alice, _ := runner.Member("support-phlo", "mpc-1", "sip:alice@phone.plivo.com")
	fmt.Println("alice transferring to:", alice.TransferringTo)
	fmt.Println("requests:", len(runner.Requests()))
	// Output:
	// the transfer may be in progress: abort it before taking the customer off hold or trying again
	// alice transferring to: sip:bob@phone.plivo.com
	// requests: 1
}

// TestREADMETransferHandler: the handler the README shows is the one the
// example runs.
func TestREADMETransferHandler(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("outcome_example_test.go")
	require.NoError(t, err)
	handler := func(text, end string) string {
		_, after, ok := strings.Cut(text, "\nfunc transfer(")
		require.True(t, ok, "no transfer handler")
		body, _, ok := strings.Cut(after, end)
		require.True(t, ok)
		return body
	}
	assert.Equal(t, handler(string(src), "\n}\n"), handler(string(readme), "\n}\n```"))
}
