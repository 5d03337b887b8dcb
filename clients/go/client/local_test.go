package client_test

// What the real services never do, shown with a small in-process Go router: TLS with a private CA,
// the token's header as it arrives, and streams that break their order or end early.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"orchestrouter/clients/go/client"
	v1 "orchestrouter/clients/go/gen/orchestrouter/v1"
)

// localRouter answers GetStatus with the caller's authorization header as RouterId, and
// RouteStream with its events.
type localRouter struct {
	v1.UnimplementedRouterServiceServer
	events []*v1.RouteStreamResponse
}

func (r *localRouter) GetStatus(ctx context.Context, _ *v1.GetStatusRequest) (*v1.GetStatusResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return &v1.GetStatusResponse{RouterId: single(md.Get("authorization"))}, nil
}

func (r *localRouter) RouteStream(_ *v1.RouteStreamRequest, stream v1.RouterService_RouteStreamServer) error {
	for _, event := range r.events {
		if err := stream.Send(event); err != nil {
			return err
		}
	}
	return nil
}

// single is the one value of a metadata key, or "" when it has none or several.
func single(values []string) string {
	if len(values) != 1 {
		return ""
	}
	return values[0]
}

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "local router"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// serve starts router on a loopback port (with TLS when cert is given) and returns its address.
func serve(t *testing.T, router *localRouter, cert *tls.Certificate) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(cert)))
	}
	server := grpc.NewServer(opts...)
	v1.RegisterRouterServiceServer(server, router)
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	return listener.Addr().String()
}

func localClient(t *testing.T, target string, opts client.Options) *client.Router {
	t.Helper()
	r, err := client.DialRouter(target, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestTLSCarriesTheBearerToken(t *testing.T) {
	cert, pool := selfSigned(t)
	target := serve(t, &localRouter{}, &cert)
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	reply, err := localClient(t, target, client.Options{TLS: tlsConfig, Token: "s3cret"}).GetStatus(deadline(t))
	if err != nil {
		t.Fatal(err)
	}
	if reply.RouterId != "Bearer s3cret" {
		t.Fatalf("the router saw authorization %q", reply.RouterId)
	}
}

func TestTLSRefusesAServerItDoesNotTrust(t *testing.T) {
	cert, _ := selfSigned(t)
	_, otherPool := selfSigned(t)
	target := serve(t, &localRouter{}, &cert)
	tlsConfig := &tls.Config{RootCAs: otherPool, MinVersion: tls.VersionTLS12}
	_, err := localClient(t, target, client.Options{TLS: tlsConfig}).GetStatus(deadline(t))
	wantCode(t, err, codes.Unavailable)
}

func TestRouteStreamRefusesBrokenStreams(t *testing.T) {
	decision := &v1.RouteStreamResponse{Event: &v1.RouteStreamResponse_Decision{Decision: &v1.Decision{}}}
	delta := &v1.RouteStreamResponse{Event: &v1.RouteStreamResponse_Delta{Delta: "some text"}}
	done := &v1.RouteStreamResponse{Event: &v1.RouteStreamResponse_Done{Done: &v1.RouteResponse{}}}
	cases := []struct {
		name   string
		events []*v1.RouteStreamResponse
		want   codes.Code
	}{
		{"ends without its final message", []*v1.RouteStreamResponse{decision, delta}, codes.Unavailable},
		{"text before the decision", []*v1.RouteStreamResponse{delta, decision, done}, codes.Internal},
		{"final message without a decision", []*v1.RouteStreamResponse{done}, codes.Internal},
	}
	for _, c := range cases {
		target := serve(t, &localRouter{events: c.events}, nil)
		_, err := localClient(t, target, client.Options{Insecure: true}).RouteStream(deadline(t), &v1.RouteStreamRequest{}, nil)
		if got := status.Code(err); got != c.want {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
	target := serve(t, &localRouter{events: []*v1.RouteStreamResponse{decision, delta, delta, done}}, nil)
	reply, err := localClient(t, target, client.Options{Insecure: true}).RouteStream(deadline(t), &v1.RouteStreamRequest{}, nil)
	if err != nil || reply.Answer != "some textsome text" {
		t.Fatalf("reply %v, error %v", reply, err)
	}
}
