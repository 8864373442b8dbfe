// Package metrics holds one node's Prometheus metrics: the requests it
// answered (by verb and result, and their latency), the leader's batches
// (writes per log entry and the time to commit one), the other members'
// clocks against this node's, the configuration's size, and hashicorp/raft's
// own metrics, which raft emits through go-metrics and raftSink turns into
// Prometheus series in the same registry.
//
// Raft's metrics go through go-metrics' process-wide global sink (raft
// calls the package-level functions): New replaces it, so in a process
// with several nodes (the in-process tests) the last one created gets
// every node's Raft series. A seatd process runs one node.
//
// raft and raft-boltdb emit through hashicorp/go-metrics/compat, which is
// armon/go-metrics (the global New replaces) unless the binary is built
// with -tags hashicorpmetrics: such a build would send Raft's metrics to
// hashicorp/go-metrics' own global, and /metrics would show none of them.
package metrics

import (
	"fmt"
	"strings"
	"sync"
	"time"

	gometrics "github.com/armon/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Set is one node's metrics and the registry that serves them.
type Set struct {
	// Registry holds every series below, Go's runtime and process
	// collectors and Raft's; /metrics serves it.
	Registry *prometheus.Registry

	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	batchWrites prometheus.Histogram
	commit      prometheus.Histogram
	peerClocks  *peerClocks
	members     *members
}

// New creates the metrics of one node and routes Raft's go-metrics into
// them (see the package documentation about the global sink).
func New() (*Set, error) {
	reg := prometheus.NewRegistry()
	s := &Set{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatd_requests_total",
			Help: "Requests answered by this node, by verb, result (the answer's first word, or ERROR_<CODE>) and origin (client, or forwarded by another node).",
		}, []string{"verb", "result", "origin"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seatd_request_duration_seconds",
			Help:    "Time from reading a client request to its answer, by verb (forwarding and retries included).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17), // 0.1 ms .. 6.5 s
		}, []string{"verb"}),
		batchWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "seatd_batch_writes",
			Help:    "Writes carried by each log entry the leader committed.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 .. 1024
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "seatd_commit_duration_seconds",
			Help:    "Time from handing a batch entry to Raft until it was applied on the leader.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17),
		}),
	}
	s.peerClocks = &peerClocks{desc: prometheus.NewDesc("seatd_peer_clock_offset_seconds",
		"How far each other member's clock is ahead of this node's (negative: behind), from its last answer to the clock probe (every 10 s). Log time is the leader's clock: keep these well under a second.",
		[]string{"peer"}, nil)}
	s.members = &members{desc: prometheus.NewDesc("seatd_cluster_members",
		"Servers in the cluster configuration this node knows, by suffrage (voter, nonvoter), read at each scrape.",
		[]string{"suffrage"}, nil)}
	sink := newRaftSink("seatd")
	sink.members = s.members
	for _, c := range []prometheus.Collector{
		s.requests, s.latency, s.batchWrites, s.commit, s.peerClocks, s.members, sink,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	// No service name: go-metrics would copy every key to prepend it; the
	// sink names the series itself.
	cfg := gometrics.DefaultConfig("")
	cfg.EnableHostname = false
	cfg.EnableHostnameLabel = false
	cfg.EnableRuntimeMetrics = false // the Go collector has them
	if _, err := gometrics.NewGlobal(cfg, sink); err != nil {
		return nil, fmt.Errorf("metrics: raft metrics: %w", err)
	}
	return s, nil
}

// ObserveRequest counts one answered request: verb is the request's verb
// ("" for a line that did not parse), answer the line sent back, took the
// time since the request was read (0: not timed), forwarded whether it
// came from another node.
func (s *Set) ObserveRequest(verb, answer string, took time.Duration, forwarded bool) {
	if verb == "" {
		verb = "UNPARSED"
	}
	origin := "client"
	if forwarded {
		origin = "forwarded"
	}
	s.requests.WithLabelValues(verb, resultLabel(answer), origin).Inc()
	if took > 0 && !forwarded {
		s.latency.WithLabelValues(verb).Observe(took.Seconds())
	}
}

// ObserveBatch records one committed batch entry of the leader.
func (s *Set) ObserveBatch(writes int, commit time.Duration) {
	s.batchWrites.Observe(float64(writes))
	s.commit.Observe(commit.Seconds())
}

// ObservePeerClocks replaces the members' clock offsets with one round's
// (cluster.ClockWatch): a member that did not answer is not shown.
func (s *Set) ObservePeerClocks(offsets map[string]time.Duration) {
	s.peerClocks.mu.Lock()
	defer s.peerClocks.mu.Unlock()
	s.peerClocks.offsets = offsets
}

// MembersFrom sets what seatd_cluster_members reads at each scrape: list
// returns the ids of the voters and non-voters of the configuration this
// node knows. Until it is set the series is not served. Raft's per-peer
// series (label peer_id) of a server no longer in the list are not served
// either.
func (s *Set) MembersFrom(list func() (voters, nonvoters []string)) {
	s.members.mu.Lock()
	defer s.members.mu.Unlock()
	s.members.list = list
}

// members serves the configuration's size on every node, leader or not.
// It stands in for Raft's raft.peers, which only a leader sets, and only
// when the configuration changes (the sink does not serve it).
type members struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	list func() (voters, nonvoters []string)
}

// read returns the configuration's voters and non-voters; ok is false
// until MembersFrom was called.
func (m *members) read() (voters, nonvoters []string, ok bool) {
	m.mu.Lock()
	list := m.list
	m.mu.Unlock()
	if list == nil {
		return nil, nil, false
	}
	voters, nonvoters = list()
	return voters, nonvoters, true
}

func (m *members) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

func (m *members) Collect(ch chan<- prometheus.Metric) {
	voters, nonvoters, ok := m.read()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(len(voters)), "voter")
	ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(len(nonvoters)), "nonvoter")
}

// peerClocks serves the last round of clock offsets as one gauge per
// member; a round replaces the whole set at once.
type peerClocks struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	offsets map[string]time.Duration
}

func (p *peerClocks) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

func (p *peerClocks) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for peer, off := range p.offsets {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, off.Seconds(), peer)
	}
}

// resultLabel is an answer's first word, or ERROR_<CODE> for an ERROR
// line: a small, fixed set of values.
func resultLabel(answer string) string {
	first, rest, _ := strings.Cut(answer, " ")
	if first != "ERROR" {
		return first
	}
	code, _, _ := strings.Cut(rest, " ")
	return "ERROR_" + code
}
