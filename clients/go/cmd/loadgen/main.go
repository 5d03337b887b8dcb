// Command loadgen is the benchmark's compiled closed-loop load generator: N callers, each sending
// its next request when its last is answered, against gRPC Route (answered or dry run) or an
// OpenAI chat completions URL over HTTP/1.1. It shares the cores with what it measures, so it is
// compiled rather than Python: orchestrouter.tools.loadgen_go runs it and reads its CPU.
//
// The queries come on stdin as a JSON array of strings (orchestrouter.tools.loadgen.QUERIES);
// request i uses queries[i % len]. The window follows loadgen.closed_loop: warmup not counted, nor
// anything before every caller has had an answer (max-warmup more at most); the window lasts
// max(duration, 3 x the time until every caller had its first answer); a request counts if it
// ends inside it; errors are counted and the first one kept; callers start nothing after the
// window; calls still in flight drain seconds after it are cut.
//
// stdout, one JSON object a line: {"event":"open"} when the window opens, {"event":"close"} when
// it closes, then the result: window_s, latencies_ms, errors, first_error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	v1 "orchestrouter/clients/go/gen/orchestrouter/v1"
)

// call sends request i for caller k and returns when it is answered.
type call func(ctx context.Context, k, i int) error

// headers is a repeatable --header K:V flag.
type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	grpcTarget := flag.String("grpc", "", "the router's gRPC address, HOST:PORT (Route)")
	dryRun := flag.Bool("dry-run", false, "Route with dry_run (gRPC only)")
	channels := flag.Int("channels", 8, "gRPC connections the callers share round robin (loadgen.GRPC_CHANNELS)")
	url := flag.String("http", "", "chat completions URL, e.g. http://127.0.0.1:8080/v1/chat/completions")
	model := flag.String("model", "orchestrouter-auto", "the chat request's model (HTTP only)")
	var extra headers
	flag.Var(&extra, "header", "K:V sent with every HTTP request (repeatable)")
	concurrency := flag.Int("concurrency", 1, "callers")
	duration := flag.Float64("duration", 5, "seconds counted")
	warmup := flag.Float64("warmup", 0.5, "seconds not counted first")
	maxWarmup := flag.Float64("max-warmup", 30, "seconds more at most waiting for every caller's first answer")
	drain := flag.Float64("drain", 60, "seconds calls in flight after the window may take before they are cut")
	// One P: the callers, the connections' readers and writers and the poller take turns on one
	// thread instead of waking each other across threads, which costs less CPU per request (on the
	// 2-core machine: 0.12-0.16 ms against 0.16-0.23 per gRPC call, 0.025 against 0.035 per HTTP call).
	procs := flag.Int("procs", 1, "Go threads running Go code at once (GOMAXPROCS)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the load to this file (go tool pprof)")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	if (*grpcTarget == "") == (*url == "") || *concurrency < 1 {
		fail(errors.New("give one of --grpc HOST:PORT or --http URL, and --concurrency >= 1"))
	}

	var queries []string
	if err := json.NewDecoder(os.Stdin).Decode(&queries); err != nil || len(queries) == 0 {
		fail(fmt.Errorf("stdin must hold a JSON array of query strings: %v", err))
	}
	var send call
	var err error
	if *grpcTarget != "" {
		send, err = routeCall(*grpcTarget, *dryRun, *channels, queries)
	} else {
		send, err = chatCall(*url, *model, extra, *concurrency, queries)
	}
	if err != nil {
		fail(err)
	}
	if *cpuProfile != "" {
		file, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(file)
		}
		if err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	out := newEvents(os.Stdout)
	result := closedLoop(send, *concurrency, seconds(*duration), seconds(*warmup), seconds(*maxWarmup), seconds(*drain), out)
	out.write(result)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(2)
}

// events writes one JSON object a line, flushed at once (the reader takes CPU readings on them).
type events struct {
	mu  sync.Mutex
	out *bufio.Writer
}

func newEvents(w io.Writer) *events { return &events{out: bufio.NewWriter(w)} }

func (e *events) write(v interface{}) {
	line, err := json.Marshal(v)
	if err != nil {
		fail(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out.Write(append(line, '\n'))
	e.out.Flush()
}

type event struct {
	Event string `json:"event"`
}

type result struct {
	WindowS     float64   `json:"window_s"`
	LatenciesMs []float64 `json:"latencies_ms"`
	Errors      int       `json:"errors"`
	FirstError  string    `json:"first_error"`
}

// window is the closed loop's shared state; mu guards all of it.
type window struct {
	mu           sync.Mutex
	concurrency  int
	duration     time.Duration
	start        time.Time
	warmAt       time.Time
	opened       time.Time // zero until the window opens
	end          time.Time // zero until the window opens, then when it closes
	closed       time.Time // zero until the window has closed
	firstRound   time.Duration
	answered     int // calls ended (answer or error) before the window opened
	latencies    []float64
	errors       int
	firstError   string
	out          *events
	onClose      func()
	afterOpening []*time.Timer
}

// openIfWarm opens the window once every caller has had an answer and the warmup is over.
func (w *window) openIfWarm(now time.Time) {
	if w.answered >= w.concurrency && w.firstRound == 0 {
		w.firstRound = now.Sub(w.start)
	}
	if w.answered >= w.concurrency && !now.Before(w.warmAt) {
		w.open(now)
	}
}

func (w *window) open(now time.Time) {
	if !w.opened.IsZero() {
		return
	}
	w.out.write(event{"open"})
	w.opened = time.Now()
	length := w.duration
	if 3*w.firstRound > length {
		length = 3 * w.firstRound
	}
	w.end = w.opened.Add(length)
	w.afterOpening = append(w.afterOpening, time.AfterFunc(length, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.close()
	}))
}

func (w *window) close() {
	if !w.closed.IsZero() {
		return
	}
	w.closed = time.Now()
	w.out.write(event{"close"})
	if w.onClose != nil {
		w.onClose()
	}
}

// inWindow: the window is open and t is not after its end.
func (w *window) inWindow(t time.Time) bool {
	return !w.opened.IsZero() && !t.Before(w.opened) && !t.After(w.end)
}

// ended records a call that started at started and ended now with err.
func (w *window) ended(started time.Time, err error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.inWindow(now) && err != nil:
		w.errors++
		if w.firstError == "" {
			w.firstError = truncate(err.Error(), 300)
		}
	case w.inWindow(now):
		w.latencies = append(w.latencies, float64(now.Sub(started))/float64(time.Millisecond))
	case w.opened.IsZero():
		w.answered++
		w.openIfWarm(now)
	}
}

// over: the window has been open and its end has passed (a caller starts nothing more).
func (w *window) over(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.opened.IsZero() && !t.Before(w.end)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func closedLoop(send call, concurrency int, duration, warmup, maxWarmup, drain time.Duration, out *events) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &window{concurrency: concurrency, duration: duration, out: out, start: time.Now()}
	w.warmAt = w.start.Add(warmup)
	cut := make(chan string, 2) // why the calls in flight were cancelled
	w.onClose = func() {
		w.afterOpening = append(w.afterOpening, time.AfterFunc(drain, func() {
			cut <- fmt.Sprintf("calls still in flight %gs after the window were cancelled", drain.Seconds())
			cancel()
		}))
	}
	// Like loadgen.closed_loop: a limit on the whole load, whatever happens to the window.
	longest := 3 * (warmup + maxWarmup)
	if duration > longest {
		longest = duration
	}
	limit := time.AfterFunc(warmup+maxWarmup+longest+drain, func() {
		cut <- fmt.Sprintf("calls still in flight %gs after the window were cancelled", drain.Seconds())
		cancel()
	})
	timers := []*time.Timer{
		limit,
		time.AfterFunc(warmup, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.openIfWarm(time.Now())
		}),
		time.AfterFunc(warmup+maxWarmup, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.open(time.Now())
		}),
	}

	var callers sync.WaitGroup
	var counter int
	var counterMu sync.Mutex
	for k := 0; k < concurrency; k++ {
		callers.Add(1)
		go func(k int) {
			defer callers.Done()
			for ctx.Err() == nil {
				counterMu.Lock()
				i := counter
				counter++
				counterMu.Unlock()
				started := time.Now()
				if w.over(started) {
					return
				}
				w.ended(started, send(ctx, k, i))
			}
		}(k)
	}
	callers.Wait()

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range append(timers, w.afterOpening...) {
		t.Stop()
	}
	w.open(time.Now()) // no-ops when the timers ran
	w.onClose = nil
	w.close()
	select {
	case why := <-cut:
		if w.firstError == "" {
			w.firstError = why
		}
	default:
	}
	latencies := w.latencies
	if latencies == nil {
		latencies = []float64{}
	}
	return result{
		WindowS:     w.closed.Sub(w.opened).Seconds(),
		LatenciesMs: latencies,
		Errors:      w.errors,
		FirstError:  w.firstError,
	}
}

// routeCall: gRPC Route over channels connections; caller k uses connection k % channels.
func routeCall(target string, dryRun bool, channels int, queries []string) (call, error) {
	if channels < 1 {
		channels = 1
	}
	stubs := make([]v1.RouterServiceClient, channels)
	for n := range stubs {
		conn, err := grpc.Dial(target, grpc.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("cannot connect to %s: %w", target, err)
		}
		stubs[n] = v1.NewRouterServiceClient(conn)
	}
	requests := make([]*v1.RouteRequest, len(queries))
	for n, q := range queries {
		requests[n] = &v1.RouteRequest{Messages: []*v1.ChatMessage{{Role: "user", Content: q}}, DryRun: dryRun}
	}
	return func(ctx context.Context, k, i int) error {
		_, err := stubs[k%len(stubs)].Route(ctx, requests[i%len(requests)])
		return err
	}, nil
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
}

// chatCall: chat completions POSTed to url over one keep-alive connection per caller (a
// Transport each); the whole answer is read, and a status other than 200 is an error.
func chatCall(url, model string, extra headers, concurrency int, queries []string) (call, error) {
	header := http.Header{"Content-Type": {"application/json"}}
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("--header %q is not K:V", kv)
		}
		header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	bodies := make([][]byte, len(queries))
	for n, q := range queries {
		body, err := json.Marshal(chatRequest{model, []chatMessage{{"user", q}}})
		if err != nil {
			return nil, err
		}
		bodies[n] = body
	}
	clients := make([]*http.Client, concurrency)
	for k := range clients {
		clients[k] = &http.Client{Transport: &http.Transport{
			DisableCompression:  true,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
		}}
	}
	if _, err := http.NewRequest(http.MethodPost, url, nil); err != nil {
		return nil, err
	}
	return func(ctx context.Context, k, i int) error {
		request, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			return err
		}
		request.Header = header.Clone()
		response, err := clients[k].Do(request)
		if err != nil {
			return err
		}
		defer response.Body.Close()
		body, err := io.ReadAll(response.Body)
		if err != nil {
			return err
		}
		if response.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d: %q", response.StatusCode, truncate(string(body), 200))
		}
		return nil
	}, nil
}
