// Package client reaches OrchestROUTER's router (Route, RouteStream, GetStatus) and scorer (Score,
// GetModelInfo) over gRPC, with TLS or plaintext and an optional bearer token on every call.
// The generated stubs it wraps are in orchestrouter/clients/go/gen/orchestrouter/v1.
package client

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	v1 "orchestrouter/clients/go/gen/orchestrouter/v1"
)

// Options say how to connect to a service.
type Options struct {
	// Insecure connects in plaintext (loopback, tests, a mesh that encrypts for you). Without it
	// the connection uses TLS.
	Insecure bool
	// TLS configures the TLS connection; nil verifies the server against the system's roots.
	TLS *tls.Config
	// Token, when set, is sent as "authorization: Bearer TOKEN" with every call.
	Token string
}

// bearer is the per-call credential that carries Options.Token.
type bearer struct {
	header     string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": b.header}, nil
}

// RequireTransportSecurity lets a token travel in plaintext only when Options.Insecure says so.
func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

// dial opens a connection with the transport and credentials the options ask for. It does not wait
// for the server: an unreachable one shows as UNAVAILABLE on the first call.
func dial(target string, opts Options) (*grpc.ClientConn, error) {
	var dialOpts []grpc.DialOption
	if opts.Insecure {
		dialOpts = append(dialOpts, grpc.WithInsecure())
	} else {
		config := opts.TLS
		if config == nil {
			config = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(config)))
	}
	if opts.Token != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearer{"Bearer " + opts.Token, !opts.Insecure}))
	}
	conn, err := grpc.Dial(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", target, err)
	}
	return conn, nil
}

// Router is a connection to a router.
type Router struct {
	conn *grpc.ClientConn
	stub v1.RouterServiceClient
}

// DialRouter connects to the router at target ("host:port").
func DialRouter(target string, opts Options) (*Router, error) {
	conn, err := dial(target, opts)
	if err != nil {
		return nil, err
	}
	return &Router{conn, v1.NewRouterServiceClient(conn)}, nil
}

// Close closes the connection.
func (r *Router) Close() error { return r.conn.Close() }

// Route routes one chat request and returns the decision with the chosen model's answer.
func (r *Router) Route(ctx context.Context, req *v1.RouteRequest) (*v1.RouteResponse, error) {
	return r.stub.Route(ctx, req)
}

// GetStatus returns the router's configuration and each endpoint's health and counters.
func (r *Router) GetStatus(ctx context.Context) (*v1.GetStatusResponse, error) {
	return r.stub.GetStatus(ctx, &v1.GetStatusRequest{})
}

// RouteStream routes one chat request with the answer streamed: onDelta (may be nil) gets each
// piece of text as it arrives, and the result is the stream's final message with Answer holding the
// whole text. The stream must be a decision, then deltas, then its final message; anything else,
// a cut included, is an error, so a returned answer is never a truncated one.
func (r *Router) RouteStream(
	ctx context.Context, req *v1.RouteStreamRequest, onDelta func(string),
) (*v1.RouteResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the call if this returns early
	stream, err := r.stub.RouteStream(ctx, req)
	if err != nil {
		return nil, err
	}
	var decided bool
	var text []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, status.Error(codes.Unavailable, "the stream ended without its final message")
		}
		if err != nil {
			return nil, err
		}
		switch event := msg.Event.(type) {
		case *v1.RouteStreamResponse_Decision:
			decided = true
		case *v1.RouteStreamResponse_Delta:
			if !decided {
				return nil, status.Error(codes.Internal, "the stream sent text before its decision")
			}
			text = append(text, event.Delta...)
			if onDelta != nil {
				onDelta(event.Delta)
			}
		case *v1.RouteStreamResponse_Done:
			if !decided {
				return nil, status.Error(codes.Internal, "the stream ended before its decision")
			}
			event.Done.Answer = string(text)
			return event.Done, nil
		default:
			return nil, status.Errorf(codes.Internal, "the stream sent an unknown event %T", event)
		}
	}
}

// Scorer is a connection to a scorer.
type Scorer struct {
	conn *grpc.ClientConn
	stub v1.ScorerServiceClient
}

// DialScorer connects to the scorer at target ("host:port").
func DialScorer(target string, opts Options) (*Scorer, error) {
	conn, err := dial(target, opts)
	if err != nil {
		return nil, err
	}
	return &Scorer{conn, v1.NewScorerServiceClient(conn)}, nil
}

// Close closes the connection.
func (s *Scorer) Close() error { return s.conn.Close() }

// ModelInfo describes the scorer's loaded router model, its embedding dimension included.
func (s *Scorer) ModelInfo(ctx context.Context) (*v1.GetModelInfoResponse, error) {
	return s.stub.GetModelInfo(ctx, &v1.GetModelInfoRequest{})
}

// Score returns one win probability per embedding row. Rows of unequal length are refused here
// with INVALID_ARGUMENT, the status the scorer gives any batch it cannot take.
func (s *Scorer) Score(ctx context.Context, rows [][]float32) (*v1.ScoreResponse, error) {
	batch, err := PackRows(rows)
	if err != nil {
		return nil, err
	}
	return s.stub.Score(ctx, &v1.ScoreRequest{Embeddings: batch})
}

// PackRows packs equal-length rows into an EmbeddingBatch: float32 values, row-major,
// little-endian, as the scorer reads them.
func PackRows(rows [][]float32) (*v1.EmbeddingBatch, error) {
	dim := 0
	if len(rows) > 0 {
		dim = len(rows[0])
	}
	data := make([]byte, 0, 4*dim*len(rows))
	for i, row := range rows {
		if len(row) != dim {
			return nil, status.Errorf(codes.InvalidArgument, "row %d has %d values, row 0 has %d", i, len(row), dim)
		}
		for _, v := range row {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
	}
	return &v1.EmbeddingBatch{Data: data, Rows: uint32(len(rows)), Dim: uint32(dim)}, nil
}
