package client_test

// These tests call a running router and scorer. tests/test_client_go.py starts both (with fake
// model endpoints and a caller token) and runs them; by hand, set the variables below.

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"orchestrouter/clients/go/client"
	v1 "orchestrouter/clients/go/gen/orchestrouter/v1"
)

const question = "Write a recursive descent parser for arithmetic expressions in Go."

// env returns a required environment variable, failing the test with what to set when it is missing.
func env(t *testing.T, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		t.Fatalf("set %s (tests/test_client_go.py starts the services and sets it)", name)
	}
	return value
}

// options are the connection options: plaintext, with the token from ORCHESTROUTER_GO_TOKEN.
func options(t *testing.T) client.Options {
	return client.Options{Insecure: true, Token: env(t, "ORCHESTROUTER_GO_TOKEN")}
}

func router(t *testing.T, opts client.Options) *client.Router {
	t.Helper()
	r, err := client.DialRouter(env(t, "ORCHESTROUTER_GO_ROUTER_TARGET"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func scorer(t *testing.T) *client.Scorer {
	t.Helper()
	s, err := client.DialScorer(env(t, "ORCHESTROUTER_GO_SCORER_TARGET"), options(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func userMessage(text string) []*v1.ChatMessage {
	return []*v1.ChatMessage{{Role: "user", Content: text}}
}

// params sets proto3 optional fields: the generated code must support them.
func params() *v1.GenerationParams {
	return &v1.GenerationParams{MaxTokens: proto.Uint32(64), Temperature: proto.Float64(0.2)}
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got %v (%v), want %v", got, err, want)
	}
}

func route(t *testing.T) *v1.RouteResponse {
	t.Helper()
	reply, err := router(t, options(t)).Route(deadline(t), &v1.RouteRequest{Messages: userMessage(question), Params: params()})
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

func TestRoute(t *testing.T) {
	reply := route(t)
	d := reply.Decision
	if d.Tier != v1.Tier_TIER_SMALL && d.Tier != v1.Tier_TIER_PREMIUM {
		t.Fatalf("tier %v", d.Tier)
	}
	if d.Model == "" || d.RouterId == "" || d.WinProbability < 0 || d.WinProbability > 1 || d.Degraded {
		t.Fatalf("decision %v", d)
	}
	if reply.Answer == "" || reply.FinishReason == "" || reply.RequestId == "" {
		t.Fatalf("reply %v", reply)
	}
	u := reply.Usage
	if u.CompletionTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %v", u)
	}
}

func TestRouteStream(t *testing.T) {
	var deltas []string
	request := &v1.RouteStreamRequest{Messages: userMessage(question), Params: params()}
	done, err := router(t, options(t)).RouteStream(deadline(t), request, func(d string) { deltas = append(deltas, d) })
	if err != nil {
		t.Fatal(err)
	}
	if len(deltas) < 2 || done.Answer != strings.Join(deltas, "") {
		t.Fatalf("deltas %q, answer %q", deltas, done.Answer)
	}
	// The same question unstreamed goes to the same tier and gets the same answer from it.
	whole := route(t)
	if done.Decision.Tier != whole.Decision.Tier || done.Answer != whole.Answer {
		t.Fatalf("streamed %v %q, unstreamed %v %q", done.Decision.Tier, done.Answer, whole.Decision.Tier, whole.Answer)
	}
	if done.Usage.CompletionTokens == 0 || done.FinishReason == "" {
		t.Fatalf("final message %v", done)
	}
}

func TestGetStatus(t *testing.T) {
	route(t)
	reply, err := router(t, options(t)).GetStatus(deadline(t))
	if err != nil {
		t.Fatal(err)
	}
	tiers := map[v1.Tier]*v1.EndpointStatus{}
	var requests uint64
	for _, e := range reply.Endpoints {
		tiers[e.Tier] = e
		requests += e.Requests
	}
	if len(tiers) != 2 || tiers[v1.Tier_TIER_SMALL] == nil || tiers[v1.Tier_TIER_PREMIUM] == nil {
		t.Fatalf("endpoints %v", reply.Endpoints)
	}
	if requests == 0 || reply.RouterId == "" || reply.Threshold < 0 || reply.Threshold > 1 {
		t.Fatalf("status %v", reply)
	}
}

func TestRouteRefusesAnOutOfRangeThreshold(t *testing.T) {
	request := &v1.RouteRequest{Messages: userMessage(question), Dial: &v1.RouteRequest_Threshold{Threshold: 7}}
	_, err := router(t, options(t)).Route(deadline(t), request)
	wantCode(t, err, codes.InvalidArgument)
}

func TestCallWithoutTokenIsUnauthenticated(t *testing.T) {
	_, err := router(t, client.Options{Insecure: true}).GetStatus(deadline(t))
	wantCode(t, err, codes.Unauthenticated)
}

func TestScore(t *testing.T) {
	s := scorer(t)
	info, err := s.ModelInfo(deadline(t))
	if err != nil {
		t.Fatal(err)
	}
	dim := int(info.Embedder.Dim)
	rows := [][]float32{make([]float32, dim), make([]float32, dim)}
	for i := range rows[1] {
		rows[1][i] = float32(math.Sin(float64(i))) * 0.05
	}
	reply, err := s.Score(deadline(t), rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.WinProbabilities) != 2 || reply.RouterId != info.RouterId {
		t.Fatalf("reply %v for model %s", reply, info.RouterId)
	}
	for _, p := range reply.WinProbabilities {
		if p < 0 || p > 1 {
			t.Fatalf("probability %v", p)
		}
	}
}

func TestScoreWrongDimensionIsInvalidArgument(t *testing.T) {
	s := scorer(t)
	info, err := s.ModelInfo(deadline(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Score(deadline(t), [][]float32{make([]float32, info.Embedder.Dim+1)})
	wantCode(t, err, codes.InvalidArgument)
}

func TestPackRowsIsLittleEndianRowMajor(t *testing.T) {
	batch, err := client.PackRows([][]float32{{1, 2}, {3, -0.5}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0, 0xbf}
	if batch.Rows != 2 || batch.Dim != 2 || string(batch.Data) != string(want) {
		t.Fatalf("batch %v", batch)
	}
}

func TestPackRowsRefusesUnequalRows(t *testing.T) {
	_, err := client.PackRows([][]float32{{1, 2}, {3}})
	wantCode(t, err, codes.InvalidArgument)
}
