package metrics

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gometrics "github.com/armon/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// raftSink is the go-metrics sink that turns Raft's metrics into Prometheus
// series of the node's registry: go-metrics' counters become counters, its
// gauges gauges, and its samples (timings in milliseconds, and a few counts
// such as the logs per batch) histograms.
//
// It replaces go-metrics' own Prometheus sink, which took 8-20% of a node's
// CPU (docs/benchmarks.md, "Raft's metrics"): for every sample that sink
// builds the series name, copies the series into a sync.Map and feeds a
// summary's quantile stream, and Raft emits several samples per log entry
// and per AppendEntries call. Here a sample hashes its key without
// allocating, finds its series under a read lock, and updates it with the
// client library's atomic counters.
type raftSink struct {
	prefix string // the series name's first word ("seatd")
	seed   maphash.Seed
	now    func() time.Time

	mu     sync.RWMutex
	series map[uint64][]*raftSeries // by hash of kind, key and labels
	// families maps a series name to the identity of its first series:
	// its kind, go-metrics key and label names as Raft spelled them. Two
	// series of one name that differ in any of these (another kind,
	// other labels, or keys such as a-b and a_b that sanitize alike)
	// would make the registry refuse the whole scrape, so a later one is
	// kept but not served.
	families map[string]string
	// members, when set, is the configuration: a series labelled with the
	// peer_id of a server no longer in it is not served.
	members *members
}

// gaugeExpiry is how long a leader's gauge that is no longer set stays on
// /metrics. Raft sets some gauges only while it leads (those under
// raft.leader, dispatchNumLogs and oldestLogAge, and raft.commitNumLogs),
// and a node that lost leadership should stop showing them. Every other
// gauge stays until set again (raft.fsm.lastRestoreDuration is set only
// after a restore, and must not vanish from a cluster that is merely
// stable). Counters and histograms stay for the life of the process, as
// with the client library's own vectors, but a peer's series (peer_id)
// is left out once the peer is no longer in the configuration.
const gaugeExpiry = time.Minute

// expires reports whether a gauge of key is hidden once not set for
// gaugeExpiry: the leader's own gauges.
func expires(key []string) bool {
	return len(key) > 2 && key[0] == "raft" && key[1] == "leader" ||
		slices.Equal(key, []string{"raft", "commitNumLogs"})
}

// replaced reports whether Raft's series of key is left out because the
// Set serves a better one: raft.peers is set by a leader only, and only
// when the configuration changes, so a former leader would show a stale
// count and a follower none; seatd_cluster_members counts the
// configuration on every node.
func replaced(key []string) bool {
	return slices.Equal(key, []string{"raft", "peers"})
}

// raftHistogramBuckets spans go-metrics' samples: timings from 10 µs to
// 10 s in milliseconds, and counts up to a few thousand.
var raftHistogramBuckets = prometheus.ExponentialBuckets(0.01, 2, 21)

type seriesKind uint8

const (
	kindCounter seriesKind = iota + 1
	kindGauge
	kindSample
)

// raftSeries is one Prometheus series: its go-metrics identity and the
// collector that holds its value.
type raftSeries struct {
	kind    seriesKind
	key     []string
	labels  []gometrics.Label
	counter prometheus.Counter
	gauge   prometheus.Gauge
	hist    prometheus.Histogram
	// setAt is when a gauge was last set (Unix nanoseconds).
	setAt atomic.Int64
	// expires: a gauge hidden once not set for gaugeExpiry.
	expires bool
	// peer is the value of its peer_id label, "" without one.
	peer string
	// hidden: the series is not served, because its name is taken by a
	// series of another identity, its labels would break the scrape, or
	// the Set serves a replacement (replaced).
	hidden bool
}

func newRaftSink(prefix string) *raftSink {
	return &raftSink{prefix: prefix, seed: maphash.MakeSeed(), now: time.Now, series: make(map[uint64][]*raftSeries), families: make(map[string]string)}
}

func (s *raftSink) hash(kind seriesKind, key []string, labels []gometrics.Label) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteByte(byte(kind))
	for _, k := range key {
		h.WriteString(k)
		h.WriteByte(0)
	}
	for _, l := range labels {
		h.WriteByte(1)
		h.WriteString(l.Name)
		h.WriteByte(0)
		h.WriteString(l.Value)
	}
	return h.Sum64()
}

func (r *raftSeries) is(kind seriesKind, key []string, labels []gometrics.Label) bool {
	return r.kind == kind && slices.Equal(r.key, key) && slices.Equal(r.labels, labels)
}

// get returns the series of kind, key and labels, creating it on first use.
func (s *raftSink) get(kind seriesKind, key []string, labels []gometrics.Label) *raftSeries {
	h := s.hash(kind, key, labels)
	s.mu.RLock()
	r := s.find(h, kind, key, labels)
	s.mu.RUnlock()
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(h, kind, key, labels); r != nil {
		return r // created meanwhile
	}
	r = s.newSeries(kind, key, labels)
	s.series[h] = append(s.series[h], r)
	return r
}

// find returns the series of hash h that is kind, key and labels, or nil;
// s.mu is held.
func (s *raftSink) find(h uint64, kind seriesKind, key []string, labels []gometrics.Label) *raftSeries {
	for _, r := range s.series[h] {
		if r.is(kind, key, labels) {
			return r
		}
	}
	return nil
}

// newSeries creates a series and records its identity under its name;
// s.mu is held for writing.
func (s *raftSink) newSeries(kind seriesKind, key []string, labels []gometrics.Label) *raftSeries {
	r := &raftSeries{kind: kind, key: slices.Clone(key), labels: slices.Clone(labels), expires: kind == kindGauge && expires(key), hidden: replaced(key)}
	name := s.seriesName(key)
	help := "hashicorp/raft's " + strings.Join(key, ".") + " (through go-metrics)"
	constLabels := prometheus.Labels{}
	rawNames := make([]string, 0, len(labels))
	for _, l := range labels {
		if l.Name == "peer_id" {
			r.peer = l.Value
		}
		n := sanitize(l.Name)
		if _, twice := constLabels[n]; twice || !servableLabel(kind, n) {
			r.hidden = true
		}
		constLabels[n] = l.Value
		rawNames = append(rawNames, l.Name)
	}
	slices.Sort(rawNames)
	identity := string(rune('0'+kind)) + "\x00" + strings.Join(key, "\x00") + "\x01" + strings.Join(rawNames, "\x00")
	if first, ok := s.families[name]; ok {
		r.hidden = r.hidden || first != identity
	} else if !r.hidden {
		s.families[name] = identity
	}
	if r.hidden {
		// Never served: no labels, so that building it cannot panic.
		constLabels = nil
	}
	switch kind {
	case kindCounter:
		r.counter = prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: constLabels})
	case kindGauge:
		r.gauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: constLabels})
	case kindSample:
		r.hist = prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: constLabels, Buckets: raftHistogramBuckets})
	}
	return r
}

// seriesName is go-metrics' key as one Prometheus name: its parts joined
// with "_" after the prefix, and any character a name may not hold
// replaced by "_" (as go-metrics' own sink named them: seatd_raft_commitTime).
func (s *raftSink) seriesName(key []string) string {
	return sanitize(s.prefix + "_" + strings.Join(key, "_"))
}

// servableLabel reports whether a sanitized label name may be served on a
// series of kind: not empty, not reserved (__), and not le on a
// histogram, whose buckets own it (the client library panics on it).
func servableLabel(kind seriesKind, name string) bool {
	return name != "" && !strings.HasPrefix(name, "__") && !(kind == kindSample && name == "le")
}

func sanitize(name string) string {
	b := []byte(name)
	for i, c := range b {
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9' && i > 0)
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// SetGauge implements gometrics.MetricSink.
func (s *raftSink) SetGauge(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

// SetGaugeWithLabels implements gometrics.MetricSink.
func (s *raftSink) SetGaugeWithLabels(key []string, val float32, labels []gometrics.Label) {
	r := s.get(kindGauge, key, labels)
	r.gauge.Set(float64(val))
	r.setAt.Store(s.now().UnixNano())
}

// EmitKey implements gometrics.MetricSink; Prometheus has no such type,
// and Raft emits none.
func (s *raftSink) EmitKey(key []string, val float32) {}

// IncrCounter implements gometrics.MetricSink.
func (s *raftSink) IncrCounter(key []string, val float32) { s.IncrCounterWithLabels(key, val, nil) }

// IncrCounterWithLabels implements gometrics.MetricSink. A Prometheus
// counter only grows: a negative increment is dropped.
func (s *raftSink) IncrCounterWithLabels(key []string, val float32, labels []gometrics.Label) {
	if !(val >= 0) {
		return
	}
	s.get(kindCounter, key, labels).counter.Add(float64(val))
}

// AddSample implements gometrics.MetricSink.
func (s *raftSink) AddSample(key []string, val float32) { s.AddSampleWithLabels(key, val, nil) }

// AddSampleWithLabels implements gometrics.MetricSink.
func (s *raftSink) AddSampleWithLabels(key []string, val float32, labels []gometrics.Label) {
	s.get(kindSample, key, labels).hist.Observe(float64(val))
}

// Describe implements prometheus.Collector. It describes nothing: the
// series appear as Raft emits them, so the registry treats the sink as an
// unchecked collector.
func (s *raftSink) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (s *raftSink) Collect(ch chan<- prometheus.Metric) {
	expired := s.now().Add(-gaugeExpiry).UnixNano()
	var inConfig map[string]bool // nil: every peer's series is served
	if s.members != nil {
		if voters, nonvoters, ok := s.members.read(); ok {
			inConfig = make(map[string]bool, len(voters)+len(nonvoters))
			for _, ids := range [][]string{voters, nonvoters} {
				for _, id := range ids {
					inConfig[id] = true
				}
			}
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, bucket := range s.series {
		for _, r := range bucket {
			if r.hidden || r.peer != "" && inConfig != nil && !inConfig[r.peer] {
				continue
			}
			switch r.kind {
			case kindCounter:
				ch <- r.counter
			case kindGauge:
				if !r.expires || r.setAt.Load() >= expired {
					ch <- r.gauge
				}
			case kindSample:
				ch <- r.hist
			}
		}
	}
}
