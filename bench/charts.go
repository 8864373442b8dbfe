package bench

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// LabeledResult is a Result with the name it has in charts and tables.
type LabeledResult struct {
	Label  string
	Result *Result
}

// Chart file names written by WriteCharts (after its prefix).
const (
	ThroughputFile = "throughput.svg"
	LatencyCDFFile = "latency-cdf.svg"
	OnSaleFile     = "onsale.svg"
)

// WriteCharts writes SVG charts of results into dir, named prefix
// followed by ThroughputFile and LatencyCDFFile (of the runs of fixed
// length) and OnSaleFile (when there are on-sale runs):
//
//   - throughput: committed ops/s against clients (log scale), one line per
//     series, a series being the results of one workload, target and
//     pipeline depth (SeriesName);
//   - latency CDF: latency (ms, log scale) against percentile (scaled to
//     show the tail: 90, 99, 99.9, ... are equally spaced), one line per
//     result, named by its label;
//   - on sale: seats sold against time since the opening, one line per
//     on-sale run (OnSaleSVG).
func WriteCharts(results []LabeledResult, dir, prefix string) error {
	if len(results) == 0 {
		return errors.New("bench: charts: no results")
	}
	for _, lr := range results {
		if lr.Result == nil {
			return fmt.Errorf("bench: charts: result %q is missing", lr.Label)
		}
	}
	// On-sale runs have a chart of their own: their clients and their
	// latency (a sale's queue of buyers) would flatten the others' lines.
	var fixed, sales []LabeledResult
	for _, lr := range results {
		if lr.Result.OnSale != nil {
			sales = append(sales, lr)
		} else {
			fixed = append(fixed, lr)
		}
	}
	type file struct {
		name string
		svg  []byte
	}
	var files []file
	if len(fixed) > 0 {
		files = append(files, file{prefix + ThroughputFile, ThroughputSVG(fixed)}, file{prefix + LatencyCDFFile, LatencyCDFSVG(fixed)})
	}
	if len(sales) > 0 {
		files = append(files, file{prefix + OnSaleFile, OnSaleSVG(sales)})
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, f.svg, 0o644); err != nil {
			return fmt.Errorf("bench: charts: %w", err)
		}
	}
	return nil
}

// SeriesName names the throughput series a result belongs to, e.g.
// "distinct via all nodes" or "distinct via one follower, pipeline 8".
func SeriesName(r *Result) string {
	via := r.Target
	switch r.Target {
	case TargetAll:
		via = "all nodes"
	case TargetLeader:
		via = "the leader"
	case TargetFollower:
		via = "one follower"
	}
	name := r.Workload + " via " + via
	if r.Pipeline > 1 {
		name += ", pipeline " + strconv.Itoa(r.Pipeline)
	}
	return name
}

// Chart geometry, in SVG user units (pixels).
const (
	chartW      = 960
	chartH      = 560
	plotLeft    = 90
	plotTop     = 60
	plotRight   = 660 // the legend is to the right of the plot
	plotBottom  = 480
	legendLeft  = 680
	legendRow   = 20
	fontFamily  = "Helvetica, Arial, sans-serif"
	axisColor   = "#333"
	gridColor   = "#ddd"
	minorColor  = "#eee"
	titleSize   = 18
	labelSize   = 13
	tickSize    = 12
	legendSize  = 12
	markerR     = 4
	strokeWidth = 2
)

// palette holds distinguishable line colours; dashes cycle once the
// colours are used up.
var (
	palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
		"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
	dashes = []string{"", "6,4", "2,3", "8,3,2,3"}
)

func lineStyle(i int) (color, dash string) {
	return palette[i%len(palette)], dashes[(i/len(palette))%len(dashes)]
}

// svg accumulates an SVG document.
type svg struct{ b strings.Builder }

func newSVG(title string) *svg {
	s := &svg{}
	fmt.Fprintf(&s.b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s">
<title>%s</title>
<rect x="0" y="0" width="%d" height="%d" fill="white"/>
`, chartW, chartH, chartW, chartH, fontFamily, esc(title), chartW, chartH)
	s.text(chartW/2, 32, titleSize, "middle", "bold", title)
	return s
}

func (s *svg) bytes() []byte {
	s.b.WriteString("</svg>\n")
	return []byte(s.b.String())
}

func (s *svg) line(x1, y1, x2, y2 float64, color string, width float64, dash string) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g"%s/>`+"\n",
		x1, y1, x2, y2, color, width, dashAttr(dash))
}

func (s *svg) text(x, y float64, size int, anchor, weight, t string) {
	w := ""
	if weight != "" {
		w = fmt.Sprintf(` font-weight="%s"`, weight)
	}
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s"%s>%s</text>`+"\n",
		x, y, size, anchor, w, esc(t))
}

// vtext writes text rotated to read upwards, centred on (x, y).
func (s *svg) vtext(x, y float64, size int, t string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" font-size="%d" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		x, y, size, x, y, esc(t))
}

func (s *svg) polyline(pts [][2]float64, color, dash string) {
	if len(pts) < 2 {
		return
	}
	s.b.WriteString(`<polyline fill="none" stroke="` + color + `" stroke-width="` +
		strconv.Itoa(strokeWidth) + `" stroke-linejoin="round"` + dashAttr(dash) + ` points="`)
	for i, p := range pts {
		if i > 0 {
			s.b.WriteByte(' ')
		}
		fmt.Fprintf(&s.b, "%.1f,%.1f", p[0], p[1])
	}
	s.b.WriteString(`"/>` + "\n")
}

func (s *svg) circle(x, y float64, color, title string) {
	fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="%d" fill="%s"><title>%s</title></circle>`+"\n",
		x, y, markerR, color, esc(title))
}

// frame draws the plot area's border and the axis titles.
func (s *svg) frame(xTitle, yTitle string) {
	fmt.Fprintf(&s.b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="%s" stroke-width="1"/>`+"\n",
		plotLeft, plotTop, plotRight-plotLeft, plotBottom-plotTop, axisColor)
	s.text((plotLeft+plotRight)/2, plotBottom+50, labelSize, "middle", "", xTitle)
	s.vtext(plotLeft-62, (plotTop+plotBottom)/2, labelSize, yTitle)
}

// xTick draws a vertical grid line and its label at x.
func (s *svg) xTick(x float64, label string, color string) {
	s.line(x, plotTop, x, plotBottom, color, 1, "")
	s.line(x, plotBottom, x, plotBottom+5, axisColor, 1, "")
	if label != "" {
		s.text(x, plotBottom+20, tickSize, "middle", "", label)
	}
}

// yTick draws a horizontal grid line and its label at y.
func (s *svg) yTick(y float64, label string, color string) {
	s.line(plotLeft, y, plotRight, y, color, 1, "")
	s.line(plotLeft-5, y, plotLeft, y, axisColor, 1, "")
	if label != "" {
		s.text(plotLeft-8, y+4, tickSize, "end", "", label)
	}
}

// legend draws one entry per name, in order, to the right of the plot.
func (s *svg) legend(names []string, withMarker bool) {
	y := float64(plotTop + 8)
	for i, n := range names {
		color, dash := lineStyle(i)
		s.line(legendLeft, y, legendLeft+28, y, color, strokeWidth, dash)
		if withMarker {
			fmt.Fprintf(&s.b, `<circle cx="%d" cy="%.1f" r="%d" fill="%s"/>`+"\n", legendLeft+14, y, markerR, color)
		}
		s.text(legendLeft+36, y+4, legendSize, "start", "", n)
		y += legendRow
	}
}

func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return ` stroke-dasharray="` + dash + `"`
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func esc(s string) string { return escaper.Replace(s) }

// ThroughputSVG draws committed ops/s against clients, one line per series
// (see SeriesName), the x axis in log scale.
func ThroughputSVG(results []LabeledResult) []byte {
	type point struct {
		clients int
		ops     float64
		label   string
	}
	var names []string
	series := map[string][]point{}
	for _, lr := range results {
		if lr.Result == nil {
			continue
		}
		n := SeriesName(lr.Result)
		if _, ok := series[n]; !ok {
			names = append(names, n)
		}
		series[n] = append(series[n], point{lr.Result.Clients, lr.Result.OpsPerSec, lr.Label})
	}

	// x: log2(clients), padded half a step when there is a single value.
	var xs []int
	maxOps := 0.0
	for _, pts := range series {
		slices.SortStableFunc(pts, func(a, b point) int { return cmp.Compare(a.clients, b.clients) })
		for _, p := range pts {
			xs = append(xs, max(p.clients, 1))
			maxOps = max(maxOps, p.ops)
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	lo, hi := 0.0, 1.0
	if len(xs) > 0 {
		lo, hi = math.Log2(float64(xs[0])), math.Log2(float64(xs[len(xs)-1]))
	}
	pad := max((hi-lo)*0.05, 0.5)
	lo, hi = lo-pad, hi+pad
	xpos := func(c int) float64 {
		return plotLeft + (math.Log2(float64(max(c, 1)))-lo)/(hi-lo)*(plotRight-plotLeft)
	}
	yTop, yStep := niceScale(maxOps * 1.08)
	ypos := func(v float64) float64 {
		return plotBottom - v/yTop*(plotBottom-plotTop)
	}

	s := newSVG("Committed operations per second by number of clients")
	for v := 0.0; v <= yTop+yStep/2; v += yStep {
		s.yTick(ypos(v), fmtCount(v), gridColor)
	}
	for _, c := range xs {
		s.xTick(xpos(c), strconv.Itoa(c), gridColor)
	}
	s.frame("clients (connections; log scale)", "committed ops/s")
	for i, n := range names {
		color, dash := lineStyle(i)
		var pts [][2]float64
		for _, p := range series[n] {
			pts = append(pts, [2]float64{xpos(p.clients), ypos(p.ops)})
		}
		s.polyline(pts, color, dash)
		for _, p := range series[n] {
			s.circle(xpos(p.clients), ypos(p.ops), color,
				fmt.Sprintf("%s: %d clients, %.0f ops/s", p.label, p.clients, p.ops))
		}
	}
	s.legend(names, true)
	return s.bytes()
}

// ninesPos maps a percentile to the x axis of the latency CDF: the number
// of nines, -log10(1 - p/100), so 90, 99, 99.9 are equally spaced; 100
// (the maximum) is put one step beyond maxNines.
func ninesPos(p, maxNines float64) float64 {
	if p >= 100 {
		return maxNines + 1
	}
	return min(-math.Log10(1-p/100), maxNines)
}

// LatencyCDFSVG draws each result's latency (ms, log scale) against
// percentile, one line per result named by its label.
func LatencyCDFSVG(results []LabeledResult) []byte {
	// The tail shown: up to the highest finite percentile of the CDFs.
	maxNines := 2.0
	minMs, maxMs := math.Inf(1), 0.0
	var names []string
	for _, lr := range results {
		names = append(names, lr.Label)
		if lr.Result == nil {
			continue
		}
		for _, p := range lr.Result.CDF {
			if p.Percentile < 100 {
				maxNines = max(maxNines, math.Ceil(ninesPos(p.Percentile, 9)-1e-9))
			}
			if p.Ms > 0 {
				minMs = min(minMs, p.Ms)
			}
			maxMs = max(maxMs, p.Ms)
		}
	}
	if math.IsInf(minMs, 1) {
		minMs, maxMs = 0.1, 10
	}
	loDec := math.Floor(math.Log10(minMs))
	hiDec := math.Ceil(math.Log10(maxMs))
	if hiDec <= loDec {
		hiDec = loDec + 1
	}
	xmax := maxNines + 1
	xpos := func(p float64) float64 {
		return plotLeft + ninesPos(p, maxNines)/xmax*(plotRight-plotLeft)
	}
	ypos := func(ms float64) float64 {
		ms = max(ms, math.Pow(10, loDec))
		return plotBottom - (math.Log10(ms)-loDec)/(hiDec-loDec)*(plotBottom-plotTop)
	}

	s := newSVG("Request latency by percentile")
	for d := loDec; d <= hiDec; d++ {
		s.yTick(ypos(math.Pow(10, d)), fmtDecade(d), gridColor)
		if d < hiDec {
			for _, m := range []float64{2, 5} {
				label := ""
				if hiDec-loDec <= 3 {
					label = fmtDecadeMul(m, d)
				}
				s.yTick(ypos(m*math.Pow(10, d)), label, minorColor)
			}
		}
	}
	s.xTick(xpos(0), "0", gridColor)
	s.xTick(xpos(50), "50", minorColor)
	s.xTick(xpos(75), "", minorColor)
	for n := 1.0; n <= maxNines; n++ {
		p := 100 - math.Pow(10, 2-n)
		s.xTick(xpos(p), fmtPercentile(p), gridColor)
	}
	s.xTick(xpos(100), "max", gridColor)
	s.frame("percentile (scaled by nines: 90, 99, 99.9, ... equally spaced)", "latency ms (log scale)")
	for i, lr := range results {
		if lr.Result == nil {
			continue
		}
		color, dash := lineStyle(i)
		var pts [][2]float64
		for _, p := range lr.Result.CDF {
			pts = append(pts, [2]float64{xpos(p.Percentile), ypos(p.Ms)})
		}
		s.polyline(pts, color, dash)
	}
	s.legend(names, false)
	return s.bytes()
}

// niceScale returns an axis top at or above v and a tick step giving 4–10
// ticks, both "round" numbers.
func niceScale(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 0.2
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10} {
		step = m * mag
		if v/step <= 8 {
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

// fmtCount formats an axis count: 900, 1.5k, 12k, 1.2M.
func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// fmtDecade formats 10^d milliseconds: 0.01, 0.1, 1, 10, 100, 1000.
func fmtDecade(d float64) string { return fmtDecadeMul(1, d) }

func fmtDecadeMul(m, d float64) string {
	return strconv.FormatFloat(m*math.Pow(10, d), 'f', max(0, int(-d)), 64)
}

// OnSaleSVG charts on-sale runs: seats sold against milliseconds since
// the sale opened, one line per run. The curve's end is the sell-out time; its slope the rate
// at which the cluster confirms bookings while most requests lose.
func OnSaleSVG(results []LabeledResult) []byte {
	maxMs, maxSeats := 1.0, 1.0
	for _, lr := range results {
		s := lr.Result.OnSale
		if n := len(s.SoldAtMs); n > 0 {
			maxMs = max(maxMs, s.SoldAtMs[n-1])
		}
		maxSeats = max(maxSeats, float64(s.Seats))
	}
	xTop, xStep := niceScale(maxMs * 1.05)
	yTop, yStep := niceScale(maxSeats * 1.05)
	xpos := func(ms float64) float64 { return plotLeft + ms/xTop*(plotRight-plotLeft) }
	ypos := func(v float64) float64 { return plotBottom - v/yTop*(plotBottom-plotTop) }

	s := newSVG("On sale: seats sold since the sale opened")
	for v := 0.0; v <= yTop+yStep/2; v += yStep {
		s.yTick(ypos(v), fmtCount(v), gridColor)
	}
	for v := 0.0; v <= xTop+xStep/2; v += xStep {
		s.xTick(xpos(v), fmtCount(v), gridColor)
	}
	s.frame("milliseconds since the sale opened", "seats sold")
	var names []string
	for i, lr := range results {
		sale := lr.Result.OnSale
		color, dash := lineStyle(i)
		pts := [][2]float64{{xpos(0), ypos(0)}}
		for k, ms := range sale.SoldAtMs {
			pts = append(pts, [2]float64{xpos(ms), ypos(float64(k + 1))})
		}
		s.polyline(pts, color, dash)
		if n := len(sale.SoldAtMs); n > 0 {
			s.circle(xpos(sale.SoldAtMs[n-1]), ypos(float64(sale.SeatsSold)), color,
				fmt.Sprintf("%s: %d seats to %d of %d buyers in %.2f s, %.0f HOLDs per seated buyer",
					lr.Label, sale.SeatsSold, sale.Seated, sale.Buyers, sale.SellOutSec, sale.AttemptsPerSeated))
		}
		names = append(names, lr.Label)
	}
	s.legend(names, true)
	return s.bytes()
}
