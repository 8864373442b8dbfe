package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleResult fabricates a result.
func sampleResult(workload, target string, clients int, ops, p50 float64) *Result {
	r := &Result{
		Workload: workload, Target: target, Clients: clients, Pipeline: 1,
		DurationSec: 10, Answers: int64(ops * 10), Committed: int64(ops * 10), OpsPerSec: ops,
		ByKind:  map[string]int64{"SUCCESS": int64(ops * 10)},
		Latency: Latency{Mean: p50, P50: p50, P90: 2 * p50, P99: 4 * p50, P999: 8 * p50, Max: 30 * p50},
	}
	for _, p := range CDFPercentiles {
		ms := p50 * (1 + p/50)
		switch {
		case p == 100:
			ms = r.Latency.Max
		case p >= 99:
			ms = p50 * 4 * (p - 98)
		}
		r.CDF = append(r.CDF, CDFPoint{Percentile: p, Ms: ms})
	}
	return r
}

func sampleResults() []LabeledResult {
	var rs []LabeledResult
	for _, target := range []string{TargetAll, TargetFollower} {
		for i, c := range []int{1, 16, 64, 256} {
			rs = append(rs, LabeledResult{
				Label:  "distinct c=" + itoa(c) + " " + target,
				Result: sampleResult(WorkloadDistinct, target, c, float64(900*(i+1)), 0.4*float64(i+1)),
			})
		}
	}
	rs = append(rs,
		LabeledResult{"contention c=64 all", sampleResult(WorkloadContention, TargetAll, 64, 5000, 3)},
		LabeledResult{"read c=64 <all> & co", sampleResult(WorkloadRead, TargetAll, 64, 20000, 0.02)},
	)
	return rs
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// checkXML decodes an SVG document completely and returns its text content.
func checkXML(t *testing.T, name string, data []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var text strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not valid XML: %v", name, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
				if tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("%s: root namespace %q", name, tok.Name.Space)
				}
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", name, root)
	}
	return text.String()
}

func TestWriteCharts(t *testing.T) {
	dir := t.TempDir()
	rs := sampleResults()
	if err := WriteCharts(rs, dir, "bench-"); err != nil {
		t.Fatal(err)
	}
	tp, err := os.ReadFile(filepath.Join(dir, "bench-"+ThroughputFile))
	if err != nil {
		t.Fatal(err)
	}
	text := checkXML(t, ThroughputFile, tp)
	for _, want := range []string{"distinct via all nodes", "distinct via one follower", "contention via all nodes",
		"read via all nodes", "clients", "committed ops/s", "256", "16"} {
		if !strings.Contains(text, want) {
			t.Errorf("throughput chart lacks %q", want)
		}
	}
	if n := strings.Count(string(tp), "<polyline"); n != 2 {
		t.Errorf("throughput chart has %d lines, want 2 (single-point series are markers)", n)
	}

	cdf, err := os.ReadFile(filepath.Join(dir, "bench-"+LatencyCDFFile))
	if err != nil {
		t.Fatal(err)
	}
	text = checkXML(t, LatencyCDFFile, cdf)
	for _, lr := range rs {
		if !strings.Contains(text, lr.Label) {
			t.Errorf("latency chart lacks the label %q", lr.Label)
		}
	}
	for _, want := range []string{"99.9", "99.99", "max", "latency ms", "percentile"} {
		if !strings.Contains(text, want) {
			t.Errorf("latency chart lacks %q", want)
		}
	}
	if n := strings.Count(string(cdf), "<polyline"); n != len(rs) {
		t.Errorf("latency chart has %d lines, want %d", n, len(rs))
	}

	if err := WriteCharts(nil, dir, ""); err == nil {
		t.Error("no results: want an error")
	}
	if err := WriteCharts(rs, filepath.Join(dir, "missing"), ""); err == nil {
		t.Error("missing directory: want an error")
	}
}

// TestChartsDegenerate: a single result, zero throughput and no latency
// must still give valid documents.
func TestChartsDegenerate(t *testing.T) {
	for _, rs := range [][]LabeledResult{
		{{"one", sampleResult(WorkloadRead, TargetAll, 64, 100, 1)}},
		{{"empty", &Result{Workload: WorkloadDistinct, Target: TargetAll, Clients: 1}}},
	} {
		checkXML(t, "throughput", ThroughputSVG(rs))
		checkXML(t, "latency", LatencyCDFSVG(rs))
	}
}

func TestMarkdownAndReadResult(t *testing.T) {
	rs := sampleResults()
	md := MarkdownTable(rs)
	if lines := strings.Count(md, "\n"); lines != len(rs)+2 {
		t.Errorf("table has %d lines, want %d:\n%s", lines, len(rs)+2, md)
	}
	for _, want := range []string{"| distinct c=16 all | distinct | all | 16 | 1 | 1800 |", "p99.9 ms", "SUCCESS 18000"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}

	// With a disk probe in one run, three columns more, and a dash where
	// there was none.
	rs[0].Result.FlushProbe = &FlushProbe{Flushes: 10, Latency: Latency{P99: 4.5, Max: 61}, CPUPerFlushMicros: 108}
	md = MarkdownTable(rs)
	for _, want := range []string{"disk flush p99 ms | disk flush max ms | CPU µs per flush |", " 4.50 | 61.0 | 108 |", " — | — | — |"} {
		if !strings.Contains(md, want) {
			t.Errorf("table with a probe lacks %q:\n%s", want, md)
		}
	}
	rs[0].Result.FlushProbe = nil

	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	data, _ := json.Marshal(rs[0].Result)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadResultFile(path)
	if err != nil || r.OpsPerSec != rs[0].Result.OpsPerSec || len(r.CDF) != len(CDFPercentiles) {
		t.Errorf("ReadResultFile = %+v, %v", r, err)
	}
	os.WriteFile(path, []byte(`{"x": 1}`), 0o644)
	if _, err := ReadResultFile(path); err == nil {
		t.Error("a JSON file that is no result: want an error")
	}
	if _, err := ReadResultFile(filepath.Join(dir, "none.json")); err == nil {
		t.Error("missing file: want an error")
	}
}

// On-sale runs get their own chart (seats sold over time) and table, and
// stay out of the throughput and latency charts of the fixed-length runs.
func TestOnSaleChartAndTable(t *testing.T) {
	sale := &Result{Workload: WorkloadOnSale, Target: TargetAll, Clients: 2000, Pipeline: 1, OpsPerSec: 11000,
		OnSale: &OnSale{Event: "onsale-x", Seats: 6, Buyers: 2000, SellOutSec: 1.5, Seated: 3, SeatsSold: 6,
			Holds: 90, HoldsLost: 87, AttemptsPerSeated: 30, SoldAtMs: []float64{100, 100, 700, 700, 1500, 1500}, Check: "ok"}}
	rs := append(sampleResults(), LabeledResult{"onsale c=2000", sale})
	dir := t.TempDir()
	if err := WriteCharts(rs, dir, "bench-"); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "bench-"+OnSaleFile))
	if err != nil {
		t.Fatal(err)
	}
	text := checkXML(t, OnSaleFile, svg)
	for _, want := range []string{"seats sold", "onsale c=2000", "6 seats to 3 of 2000 buyers in 1.50 s", "30 HOLDs per seated buyer"} {
		if !strings.Contains(text, want) {
			t.Errorf("on-sale chart lacks %q", want)
		}
	}
	for _, f := range []string{ThroughputFile, LatencyCDFFile} {
		b, err := os.ReadFile(filepath.Join(dir, "bench-"+f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "onsale") {
			t.Errorf("%s shows the on-sale run", f)
		}
	}
	md := OnSaleMarkdown(rs)
	if strings.Count(md, "\n") != 3 || !strings.Contains(md, "| onsale c=2000 | 2000 | 6 | 1.50 | 6 / 3 | 90 (87) | 30.0 |") {
		t.Errorf("on-sale table:\n%s", md)
	}
	if OnSaleMarkdown(sampleResults()) != "" {
		t.Error("an on-sale table without on-sale runs")
	}
}
