package metrics

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	gometrics "github.com/armon/go-metrics"
	promsink "github.com/armon/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gatherSink registers s alone and gathers it; a gather error fails the
// test (it would make /metrics answer 500).
func gatherSink(t *testing.T, s *raftSink) map[string]*dto.MetricFamily {
	t.Helper()
	byName, err := gather(s)
	if err != nil {
		t.Fatal(err)
	}
	return byName
}

// gather registers s alone and gathers it, by family name.
func gather(s *raftSink) (map[string]*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(s); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	families, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	byName := make(map[string]*dto.MetricFamily)
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return byName, nil
}

func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func TestRaftSinkSeries(t *testing.T) {
	s := newRaftSink("seatd")
	peer := []gometrics.Label{{Name: "peer_id", Value: "n2"}}
	s.IncrCounter([]string{"raft", "state", "leader"}, 1)
	s.IncrCounter([]string{"raft", "state", "leader"}, 2)
	s.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 5, peer)
	s.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 7, []gometrics.Label{{Name: "peer_id", Value: "n3"}})
	s.SetGauge([]string{"raft", "fsm", "lastRestoreDuration"}, 3)
	s.SetGauge([]string{"raft", "fsm", "lastRestoreDuration"}, 5)
	for _, ms := range []float32{0.3, 0.7, 40} {
		s.AddSampleWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, ms, peer)
	}
	s.AddSample([]string{"raft", "commit-time/x"}, 2) // characters a name may not hold

	got := gatherSink(t, s)
	check := func(name string, want map[string]float64, value func(*dto.Metric) float64) {
		t.Helper()
		f := got[name]
		if f == nil {
			t.Errorf("no family %s", name)
			return
		}
		seen := make(map[string]float64)
		for _, m := range f.GetMetric() {
			seen[labelsOf(m)] = value(m)
		}
		if len(seen) != len(want) {
			t.Errorf("%s: series %v, want %v", name, seen, want)
		}
		for l, v := range want {
			if seen[l] != v {
				t.Errorf("%s{%s} = %v, want %v", name, l, seen[l], v)
			}
		}
	}
	counter := func(m *dto.Metric) float64 { return m.GetCounter().GetValue() }
	check("seatd_raft_state_leader", map[string]float64{"": 3}, counter)
	check("seatd_raft_replication_appendEntries_logs", map[string]float64{"peer_id=n2": 5, "peer_id=n3": 7}, counter)
	check("seatd_raft_fsm_lastRestoreDuration", map[string]float64{"": 5}, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
	check("seatd_raft_replication_appendEntries_rpc", map[string]float64{"peer_id=n2": 3}, func(m *dto.Metric) float64 {
		return float64(m.GetHistogram().GetSampleCount())
	})
	check("seatd_raft_commit_time_x", map[string]float64{"": 2}, func(m *dto.Metric) float64 { return m.GetHistogram().GetSampleSum() })

	h := got["seatd_raft_replication_appendEntries_rpc"].GetMetric()[0].GetHistogram()
	if sum := h.GetSampleSum(); math.Abs(sum-41) > 0.01 {
		t.Errorf("histogram sum = %v, want 41", sum)
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() >= 1 && b.GetUpperBound() < 2 && b.GetCumulativeCount() != 2 {
			t.Errorf("bucket le=%v holds %d samples, want the two below 1 ms", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
}

func TestRaftSinkRefusesWhatWouldBreakTheScrape(t *testing.T) {
	s := newRaftSink("seatd")
	// A counter only grows: a negative increment would panic in the
	// client library.
	s.IncrCounter([]string{"raft", "apply"}, 2)
	s.IncrCounter([]string{"raft", "apply"}, -1)
	s.IncrCounter([]string{"raft", "apply"}, float32(math.NaN()))
	// One name, two shapes (another kind, other label names): the
	// registry would refuse the whole scrape; the later shape is dropped.
	s.SetGauge([]string{"raft", "apply"}, 9)
	s.IncrCounterWithLabels([]string{"raft", "apply"}, 1, []gometrics.Label{{Name: "rpc", Value: "x"}})
	// Two labels that sanitize to one name.
	s.AddSampleWithLabels([]string{"raft", "twice"}, 1, []gometrics.Label{{Name: "a-b", Value: "1"}, {Name: "a.b", Value: "2"}})
	s.EmitKey([]string{"raft", "key"}, 1)
	// Two keys that sanitize to one name: the first is served.
	s.IncrCounter([]string{"raft", "a-b"}, 3)
	s.IncrCounter([]string{"raft", "a_b"}, 4)
	s.IncrCounter([]string{"raft_a", "b"}, 5)
	// Label names that differ only before sanitizing, on two series of
	// one name: the first is served.
	s.AddSampleWithLabels([]string{"raft", "lbl"}, 1, []gometrics.Label{{Name: "peer-id", Value: "n1"}})
	s.AddSampleWithLabels([]string{"raft", "lbl"}, 1, []gometrics.Label{{Name: "peer_id", Value: "n2"}})
	// Label names the client library refuses, or panics on: le on a
	// histogram, empty, reserved.
	s.AddSampleWithLabels([]string{"raft", "le"}, 1, []gometrics.Label{{Name: "le", Value: "1"}})
	s.IncrCounterWithLabels([]string{"raft", "empty"}, 1, []gometrics.Label{{Name: "", Value: "1"}})
	s.SetGaugeWithLabels([]string{"raft", "reserved"}, 1, []gometrics.Label{{Name: "__name__", Value: "x"}})

	got := gatherSink(t, s)
	f := got["seatd_raft_apply"]
	if f == nil || f.GetType() != dto.MetricType_COUNTER || len(f.GetMetric()) != 1 {
		t.Fatalf("seatd_raft_apply = %v, want one counter", f)
	}
	if v := f.GetMetric()[0].GetCounter().GetValue(); v != 2 {
		t.Errorf("seatd_raft_apply = %v, want 2", v)
	}
	if f := got["seatd_raft_twice"]; f != nil {
		t.Errorf("a series with colliding label names was served: %v", f)
	}
	if f := got["seatd_raft_key"]; f != nil {
		t.Errorf("EmitKey made a series: %v", f)
	}
	if f := got["seatd_raft_a_b"]; len(f.GetMetric()) != 1 || f.GetMetric()[0].GetCounter().GetValue() != 3 {
		t.Errorf("seatd_raft_a_b = %v, want raft.a-b's counter alone (3)", f)
	}
	if f := got["seatd_raft_lbl"]; len(f.GetMetric()) != 1 || labelsOf(f.GetMetric()[0]) != "peer_id=n1" {
		t.Errorf("seatd_raft_lbl = %v, want the peer-id series alone", f)
	}
	for _, name := range []string{"seatd_raft_le", "seatd_raft_empty", "seatd_raft_reserved"} {
		if f := got[name]; f != nil {
			t.Errorf("a series with a label the client library refuses was served: %v", f)
		}
	}
	// A series hidden for its labels does not claim its name.
	s.AddSample([]string{"raft", "le"}, 2)
	if f := gatherSink(t, s)["seatd_raft_le"]; len(f.GetMetric()) != 1 || f.GetMetric()[0].GetHistogram().GetSampleSum() != 2 {
		t.Errorf("seatd_raft_le = %v, want the unlabelled series", f)
	}
}

func TestRaftSinkGaugesExpire(t *testing.T) {
	s := newRaftSink("seatd")
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	s.SetGauge([]string{"raft", "leader", "dispatchNumLogs"}, 4)
	s.SetGauge([]string{"raft", "commitNumLogs"}, 2)
	s.SetGauge([]string{"raft", "fsm", "lastRestoreDuration"}, 12)
	s.SetGauge([]string{"raft", "peers"}, 3)
	s.IncrCounter([]string{"raft", "apply"}, 1)
	now = now.Add(gaugeExpiry - time.Second)
	got := gatherSink(t, s)
	for _, name := range []string{"seatd_raft_leader_dispatchNumLogs", "seatd_raft_commitNumLogs"} {
		if got[name] == nil {
			t.Fatalf("%s, set within the expiry, is not served", name)
		}
	}
	if got["seatd_raft_peers"] != nil {
		t.Error("raft.peers served: only a leader sets it (seatd_cluster_members replaces it)")
	}
	now = now.Add(2 * time.Second)
	got = gatherSink(t, s)
	for _, name := range []string{"seatd_raft_leader_dispatchNumLogs", "seatd_raft_commitNumLogs"} {
		if got[name] != nil {
			t.Errorf("%s, a leader's gauge not set for longer than the expiry, is still served", name)
		}
	}
	if got["seatd_raft_apply"] == nil {
		t.Error("a counter expired: counters stay")
	}
	if got["seatd_raft_fsm_lastRestoreDuration"] == nil {
		t.Error("raft.fsm.lastRestoreDuration expired: Raft sets it only after a restore")
	}
	s.SetGauge([]string{"raft", "leader", "dispatchNumLogs"}, 6)
	if got := gatherSink(t, s); got["seatd_raft_leader_dispatchNumLogs"].GetMetric()[0].GetGauge().GetValue() != 6 {
		t.Error("a gauge set again is not served with its new value")
	}
}

// TestRaftSinkConcurrentUse: samples, new series and scrapes at once (run
// with -race): every sample is counted, and no scrape fails.
func TestRaftSinkConcurrentUse(t *testing.T) {
	s := newRaftSink("seatd")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	scrapes := make(chan error, 1)
	go func() { // scrapes until the samples are in
		defer close(scrapes)
		for {
			if _, err := gather(s); err != nil {
				scrapes <- err
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			peer := []gometrics.Label{{Name: "peer_id", Value: string(rune('a' + g%2))}}
			for i := range 1000 {
				s.AddSampleWithLabels([]string{"raft", "rpc"}, 1, peer)
				s.IncrCounter([]string{"raft", "apply"}, 1)
				// A new series every few samples, while scrapes run.
				if i%50 == 0 {
					s.SetGaugeWithLabels([]string{"raft", "fresh"}, 1, []gometrics.Label{{Name: "n", Value: fmt.Sprint(g, "-", i)}})
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-scrapes; err != nil {
		t.Fatalf("a scrape during the samples failed: %v", err)
	}
	got := gatherSink(t, s)
	if n := len(got["seatd_raft_fresh"].GetMetric()); n != 8*20 {
		t.Errorf("seatd_raft_fresh has %d series, want %d", n, 8*20)
	}
	if v := got["seatd_raft_apply"].GetMetric()[0].GetCounter().GetValue(); v != 8000 {
		t.Errorf("seatd_raft_apply = %v, want 8000", v)
	}
	var samples uint64
	for _, m := range got["seatd_raft_rpc"].GetMetric() {
		samples += m.GetHistogram().GetSampleCount()
	}
	if samples != 8000 {
		t.Errorf("seatd_raft_rpc holds %d samples, want 8000", samples)
	}
}

// BenchmarkRaftSink compares one Raft sample (a labelled timing, as raft
// emits per AppendEntries call) through this sink and through go-metrics'
// own Prometheus sink, which it replaced.
func BenchmarkRaftSink(b *testing.B) {
	key := []string{"raft", "replication", "appendEntries", "rpc"}
	labels := []gometrics.Label{{Name: "peer_id", Value: "n2"}}
	b.Run("raftSink", func(b *testing.B) {
		s := newRaftSink("seatd")
		b.ReportAllocs()
		for b.Loop() {
			s.AddSampleWithLabels(key, 0.4, labels)
		}
	})
	b.Run("go-metrics-prometheus", func(b *testing.B) {
		s, err := promsink.NewPrometheusSinkFrom(promsink.PrometheusOpts{Registerer: prometheus.NewRegistry(), Expiration: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			s.AddSampleWithLabels(append([]string{"seatd"}, key...), 0.4, labels)
		}
	})
}
