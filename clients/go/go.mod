module orchestrouter/clients/go

go 1.19

// The versions are those of Debian bookworm's packages (golang-google-grpc-dev and friends), which
// `make test-go` builds against offline, in GOPATH mode. With a module proxy, `go mod tidy` writes the
// go.sum and plain `go build ./...` works.
require (
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

