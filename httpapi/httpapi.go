// Package httpapi serves a node's HTTP port (--http): its status, health
// and readiness for load balancers and orchestrators, its Prometheus
// metrics, a JSON read API over the node's local state (events, a seat map
// page by page, a seat's history), and at / a live page of the cluster and
// an event's seat map (embedded files; it polls the read API).
//
// The read API answers from the node's own applied state: on a follower it
// may lag the leader by its replication delay (each answer carries the
// applied index it was read at). Linearizable reads are the line
// protocol's STATUS and HISTORY.
package httpapi

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/seatd/seatd/fsm"
)

// Status is the node's view of the cluster (GET /status), with the field
// names PROTOCOL.md part 4 gives.
type Status struct {
	ID           string `json:"id"`
	State        string `json:"state"` // Leader, Follower, Candidate, Shutdown
	Term         uint64 `json:"term"`
	LeaderID     string `json:"leader_id"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Peers        []Peer `json:"peers"`
}

// Peer is one member of the configuration.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // voter, nonvoter
}

// Member is one member's own view, as the live page shows it.
type Member struct {
	ID           string `json:"id"`
	State        string `json:"state"` // as Status.State, or "unreachable"
	Term         uint64 `json:"term"`
	LeaderID     string `json:"leader_id"`
	AppliedIndex uint64 `json:"applied_index"`
}

// Node is what the HTTP port needs of the node it describes.
type Node interface {
	// Status is the node's current view.
	Status() Status
	// Cluster is every member's own view, asked of each (this node's
	// first); a member that does not answer is "unreachable".
	Cluster() []Member
	// Ready is nil when the node knows a leader and has applied the log
	// up to the commit index it knows, else why not.
	Ready() error
}

// State is the local state the read API reads (package fsm's FSM).
type State interface {
	Events() []string
	Summary(event string) (fsm.Summary, error)
	Seats(event string, from uint32, count int) ([]fsm.SeatInfo, error)
	History(event string, seat uint32) ([]fsm.Change, error)
}

// Config is what a Server serves.
type Config struct {
	Node     Node
	State    State
	Registry *prometheus.Registry // served on /metrics
}

// pageFiles is the live page: HTML, CSS and script, served as they are.
//
//go:embed page
var pageFiles embed.FS

// MaxPage bounds the seats of one seat-map page.
const MaxPage = 1000

// clusterFresh is how long one round of asking the members for their view
// answers GET /v1/cluster: every open live page polls it twice a second,
// and each round dials every other member.
const clusterFresh = 250 * time.Millisecond

// Server is a node's HTTP port.
type Server struct {
	cfg Config
	srv *http.Server
	now func() time.Time

	// clusterMu is held while the members are asked, so requests that
	// arrive meanwhile wait for that round instead of starting their own.
	clusterMu   sync.Mutex
	clusterAt   time.Time
	clusterView []Member
}

// New builds the server; Serve starts it.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	page, err := fs.Sub(pageFiles, "page")
	if err != nil {
		panic(err) // the embedded directory exists: a build without it does not compile
	}
	mux.Handle("GET /{$}", http.FileServerFS(page))
	mux.Handle("GET /app.js", http.FileServerFS(page))
	mux.HandleFunc("GET /v1/cluster", s.cluster)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("GET /v1/events/{event}/seats", s.seats)
	mux.HandleFunc("GET /v1/events/{event}/seats/{seat}/history", s.history)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return s
}

// Serve serves ln until Close; it returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Node.Status())
}

// cluster serves GET /v1/cluster: every member's own view, for the page.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request) {
	nodes := s.clusterNow()
	self := ""
	if len(nodes) > 0 {
		self = nodes[0].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"self": self, "nodes": nodes})
}

// clusterNow is the members' views, asked of them at most once per
// clusterFresh however many requests come.
func (s *Server) clusterNow() []Member {
	s.clusterMu.Lock()
	defer s.clusterMu.Unlock()
	if s.clusterView == nil || s.now().Sub(s.clusterAt) >= clusterFresh {
		s.clusterView = s.cfg.Node.Cluster()
		s.clusterAt = s.now()
	}
	return s.clusterView
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Node.Ready(); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// eventJSON is one event of GET /v1/events.
type eventJSON struct {
	Name   string `json:"name"`
	Seats  int    `json:"seats"`
	Free   int    `json:"free"`
	Booked int    `json:"booked"`
	Held   int    `json:"held"`
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	applied := s.cfg.Node.Status().AppliedIndex
	out := []eventJSON{}
	for _, name := range s.cfg.State.Events() {
		sum, err := s.cfg.State.Summary(name)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, eventJSON{Name: name, Seats: sum.Total, Free: sum.Free, Booked: sum.Booked, Held: sum.Held})
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied_index": applied, "events": out})
}

// seatJSON is one seat of a seat-map page.
type seatJSON struct {
	Seat      uint32 `json:"seat"`
	State     string `json:"state"` // free, held, booked
	Holder    string `json:"holder,omitempty"`
	ExpiresMs int64  `json:"expires_ms,omitempty"`
}

// seats serves GET /v1/events/{event}/seats?from=1&count=1000: one page of
// the seat map, and "next", the first seat of the next page (0 after the
// last).
func (s *Server) seats(w http.ResponseWriter, r *http.Request) {
	event := r.PathValue("event")
	from, err := queryInt(r, "from", 1, 1, 1<<31)
	if err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	count, err := queryInt(r, "count", MaxPage, 1, MaxPage)
	if err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	applied := s.cfg.Node.Status().AppliedIndex
	sum, err := s.cfg.State.Summary(event)
	if err != nil {
		httpError(w, http.StatusNotFound, fmt.Errorf("no event %q", event))
		return
	}
	infos, err := s.cfg.State.Seats(event, uint32(from), count)
	if err != nil {
		httpError(w, http.StatusNotFound, err)
		return
	}
	page := make([]seatJSON, len(infos))
	for i, info := range infos {
		page[i] = seatJSON{Seat: uint32(from + i), State: info.State.String(), Holder: info.Holder}
		if info.State == fsm.SeatHeld {
			page[i].ExpiresMs = info.Expires
		}
	}
	next := from + len(infos)
	if len(infos) == 0 || next > sum.Total {
		next = 0
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"applied_index": applied, "event": event, "seats": sum.Total,
		"free": sum.Free, "booked": sum.Booked, "held": sum.Held,
		"from": from, "page": page, "next": next,
	})
}

// changeJSON is one change of a seat's history.
type changeJSON struct {
	Op     string `json:"op"`
	Holder string `json:"holder,omitempty"`
	Index  uint64 `json:"index"`
	TimeMs int64  `json:"time_ms"`
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	seat, err := strconv.ParseUint(r.PathValue("seat"), 10, 31)
	if err != nil || seat == 0 {
		httpError(w, http.StatusBadRequest, fmt.Errorf("seat %q is not a seat number", r.PathValue("seat")))
		return
	}
	applied := s.cfg.Node.Status().AppliedIndex
	changes, err := s.cfg.State.History(r.PathValue("event"), uint32(seat))
	switch {
	case errors.Is(err, fsm.ErrNoEvent):
		httpError(w, http.StatusNotFound, fmt.Errorf("no event %q", r.PathValue("event")))
		return
	case err != nil:
		httpError(w, http.StatusNotFound, fmt.Errorf("no seat %d in %q", seat, r.PathValue("event")))
		return
	}
	out := make([]changeJSON, len(changes))
	for i, c := range changes {
		out[i] = changeJSON{Op: c.Op.String(), Holder: c.Holder, Index: c.Index, TimeMs: c.TimeMs}
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied_index": applied, "event": r.PathValue("event"), "seat": seat, "changes": out})
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want a number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
