package bench

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/seatd/seatd/protocol"
)

// CDFPercentiles are the percentiles at which Result.CDF gives the latency.
var CDFPercentiles = []float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9, 99.99, 100}

// Result is what one run measured after its warm-up. It marshals to JSON
// as "seat bench --json" prints it and benchreport reads it.
type Result struct {
	// Workload, Target, Clients and Pipeline repeat the configuration.
	Workload string `json:"workload"`
	Target   string `json:"target"`
	Clients  int    `json:"clients"`
	Pipeline int    `json:"pipeline"`
	// Addrs are the addresses the clients were connected to, round robin.
	Addrs []string `json:"addrs"`
	// Started is when the load started (the warm-up included).
	Started time.Time `json:"started"`
	// DurationSec and WarmupSec are the measured window and the warm-up
	// before it, in seconds.
	DurationSec float64 `json:"duration_s"`
	WarmupSec   float64 `json:"warmup_s"`

	// Answers is the number of requests answered in the window.
	Answers int64 `json:"answers"`
	// Committed is the number of those answers that are results (OK or
	// FAILED_*), not ERROR lines or lines the protocol does not know.
	Committed int64 `json:"committed"`
	// OpsPerSec is Committed per second of the window.
	OpsPerSec float64 `json:"ops_per_sec"`
	// ByKind counts the answers by their first word, or first two words
	// for ERROR lines ("SUCCESS", "FAILED_ALREADY_BOOKED", "ERROR TIMEOUT").
	ByKind map[string]int64 `json:"answers_by_kind"`
	// Errors counts connection failures (dial, write, read) in the window.
	Errors int64 `json:"errors"`
	// ErrorSamples are the first few connection failures' messages.
	ErrorSamples []string `json:"error_samples,omitempty"`

	// Latency summarises the latency of the answered requests.
	Latency Latency `json:"latency_ms"`
	// CDF gives the latency at each of CDFPercentiles.
	CDF []CDFPoint `json:"cdf"`
	// ServerCPUSec is the CPU time the nodes (Config.CPUPids) used in the
	// window, and CPUPerOpMicros that divided by the committed operations.
	ServerCPUSec   float64 `json:"server_cpu_s,omitempty"`
	CPUPerOpMicros float64 `json:"server_cpu_us_per_op,omitempty"`
	// FlushProbe is the disk's own flush latency beside the load
	// (Config.FlushProbeDir), when it was probed.
	FlushProbe *FlushProbe `json:"flush_probe,omitempty"`
	// OnSale is the on-sale workload's own report (nil for the others).
	OnSale *OnSale `json:"onsale,omitempty"`
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// CDFPoint is the latency (in milliseconds) below which Percentile percent
// of the answers came.
type CDFPoint struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// ErrorAnswers is the number of answers that were not results: ERROR lines,
// and lines the protocol does not know.
func (r *Result) ErrorAnswers() int64 { return r.Answers - r.Committed }

// result merges the clients' statistics.
func (r *runner) result(clients []*benchClient, addrs []string, started time.Time) *Result {
	hist := hdrhistogram.New(histMinMicros, histMaxMicros, histDigits)
	res := &Result{
		Workload:    r.cfg.Workload,
		Target:      r.cfg.Target,
		Clients:     r.cfg.Clients,
		Pipeline:    r.cfg.Pipeline,
		Addrs:       slices.Clone(addrs),
		Started:     started,
		DurationSec: r.cfg.Duration.Seconds(),
		WarmupSec:   r.cfg.Warmup.Seconds(),
		ByKind:      map[string]int64{},
	}
	for _, c := range clients {
		hist.Merge(c.hist)
		for k, n := range c.answers {
			res.ByKind[k] += *n
		}
		res.Errors += c.errors
		for _, s := range c.errSamples {
			if len(res.ErrorSamples) < maxErrorSamples {
				res.ErrorSamples = append(res.ErrorSamples, s)
			}
		}
	}
	for k, n := range res.ByKind {
		res.Answers += n
		if committed(k) {
			res.Committed += n
		}
	}
	if secs := r.cfg.Duration.Seconds(); secs > 0 {
		res.OpsPerSec = float64(res.Committed) / secs
	}
	res.Latency, res.CDF = summarise(hist)
	return res
}

// committed reports whether an answer kind is a committed result: anything
// but an ERROR line (or a line the protocol does not know).
func committed(kind string) bool {
	k := protocol.Classify(kind)
	return k == protocol.KindOK || k == protocol.KindFailed
}

func summarise(h *hdrhistogram.Histogram) (Latency, []CDFPoint) {
	if h.TotalCount() == 0 {
		return Latency{}, nil
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	l := Latency{
		Mean: h.Mean() / 1000,
		P50:  ms(h.ValueAtPercentile(50)),
		P90:  ms(h.ValueAtPercentile(90)),
		P99:  ms(h.ValueAtPercentile(99)),
		P999: ms(h.ValueAtPercentile(99.9)),
		Max:  ms(h.Max()),
	}
	cdf := make([]CDFPoint, len(CDFPercentiles))
	for i, p := range CDFPercentiles {
		var v float64
		switch p {
		case 0:
			v = ms(h.Min())
		case 100:
			v = l.Max
		default:
			v = ms(h.ValueAtPercentile(p))
		}
		cdf[i] = CDFPoint{Percentile: p, Ms: v}
	}
	return l, cdf
}

// kinds returns the answer kinds, most frequent first.
func (r *Result) kinds() []string {
	ks := slices.Collect(maps.Keys(r.ByKind))
	slices.SortFunc(ks, func(a, b string) int {
		if c := cmp.Compare(r.ByKind[b], r.ByKind[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ks
}

// AnswerSummary lists the answer counts by kind, most frequent first:
// "SUCCESS 1200, ERROR TIMEOUT 3".
func (r *Result) AnswerSummary() string {
	var parts []string
	for _, k := range r.kinds() {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.ByKind[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Text returns a human-readable table of the result.
func (r *Result) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "workload     %s, target %s (%s)\n", r.Workload, r.Target, strings.Join(r.Addrs, ", "))
	fmt.Fprintf(&b, "load         %d clients x pipeline %d, %gs measured after %gs warm-up\n",
		r.Clients, r.Pipeline, r.DurationSec, r.WarmupSec)
	fmt.Fprintf(&b, "committed    %.0f ops/s (%d committed of %d answers)\n", r.OpsPerSec, r.Committed, r.Answers)
	fmt.Fprintf(&b, "latency ms   p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)\n",
		fmtMs(r.Latency.P50), fmtMs(r.Latency.P90), fmtMs(r.Latency.P99),
		fmtMs(r.Latency.P999), fmtMs(r.Latency.Max), fmtMs(r.Latency.Mean))
	b.WriteString("answers\n")
	if len(r.ByKind) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, k := range r.kinds() {
		fmt.Fprintf(&b, "  %-28s %10d\n", k, r.ByKind[k])
	}
	fmt.Fprintf(&b, "conn errors  %d\n", r.Errors)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	if r.ServerCPUSec > 0 {
		fmt.Fprintf(&b, "server CPU   %.2f s in the window: %.1f µs per committed operation\n", r.ServerCPUSec, r.CPUPerOpMicros)
	}
	if p := r.FlushProbe; p != nil {
		fmt.Fprintf(&b, "disk flushes p50 %s  p99 %s  p99.9 %s  max %s ms  (%d fdatasyncs of %d bytes in %s beside the load, %.0f µs CPU each)\n",
			fmtMs(p.Latency.P50), fmtMs(p.Latency.P99), fmtMs(p.Latency.P999), fmtMs(p.Latency.Max), p.Flushes, probeBytes, p.Dir, p.CPUPerFlushMicros)
	}
	if s := r.OnSale; s != nil {
		fmt.Fprintf(&b, "on sale      %d buyers for %d seats of event %s\n", s.Buyers, s.Seats, s.Event)
		fmt.Fprintf(&b, "sold out     in %.2f s (last buyer done at %.2f s): %d seats to %d buyers, %d seats left over\n",
			s.SellOutSec, s.DoneSec, s.SeatsSold, s.Seated, s.SeatsLeft)
		fmt.Fprintf(&b, "attempts     %d HOLDs, %d lost: %.1f per seated buyer; %d reads\n", s.Holds, s.HoldsLost, s.AttemptsPerSeated, s.Reads)
		for _, l := range []struct {
			name string
			lat  Latency
		}{{"HOLD won", s.HoldLatency}, {"HOLD lost", s.LostHoldLatency}, {"confirm", s.ConfirmLatency}} {
			fmt.Fprintf(&b, "%-12s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s ms\n", l.name,
				fmtMs(l.lat.P50), fmtMs(l.lat.P90), fmtMs(l.lat.P99), fmtMs(l.lat.P999), fmtMs(l.lat.Max))
		}
		fmt.Fprintf(&b, "check        %s\n", s.Check)
	}
	if len(r.CDF) > 0 {
		b.WriteString("latency CDF  ")
		for i, p := range r.CDF {
			if i > 0 {
				b.WriteString("  ")
			}
			fmt.Fprintf(&b, "%s:%s", fmtPercentile(p.Percentile), fmtMs(p.Ms))
		}
		b.WriteString(" (percentile:ms)\n")
	}
	return b.String()
}

// fmtMs formats milliseconds with three significant digits or so.
func fmtMs(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2f", ms)
	}
	return fmt.Sprintf("%.3f", ms)
}

// fmtPercentile formats a percentile without trailing zeros ("99.9").
func fmtPercentile(p float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%g", p), ".0")
}
