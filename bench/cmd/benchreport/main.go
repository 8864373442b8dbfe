// Command benchreport turns results of "seat bench --json" into a markdown
// table (on stdout, with a table of the on-sale runs when there are any) and
// SVG charts.
//
//	benchreport [--svg-dir DIR] [--svg-prefix P] label=result.json ...
//
// Each argument is a JSON result file, optionally preceded by its label and
// "=" (the label names the run in the table and the latency chart; without
// one, the file name is used). The label ends at the argument's last "=",
// so a label may hold "=" ("distinct c=16=r.json") but a path may not. The charts are DIR/P + "throughput.svg"
// (committed ops/s against clients, one line per workload and target) and
// DIR/P + "latency-cdf.svg" (latency against percentile, one line per run),
// and DIR/P + "onsale.svg" (seats sold over time) when an on-sale run is
// among them; with no --svg-dir no chart is written.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seatd/seatd/bench"
)

func main() {
	svgDir := flag.String("svg-dir", "", "directory to write the SVG charts into (none when empty)")
	svgPrefix := flag.String("svg-prefix", "", "prefix of the chart file names, e.g. bench-")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: benchreport [--svg-dir DIR] [--svg-prefix P] [label=]result.json ...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Args(), *svgDir, *svgPrefix); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, svgDir, svgPrefix string) error {
	var results []bench.LabeledResult
	for _, arg := range args {
		label, path := splitArg(arg)
		r, err := bench.ReadResultFile(path)
		if err != nil {
			return err
		}
		results = append(results, bench.LabeledResult{Label: label, Result: r})
	}
	if svgDir != "" {
		if err := bench.WriteCharts(results, svgDir, svgPrefix); err != nil {
			return err
		}
	}
	fmt.Print(bench.MarkdownTable(results))
	if sales := bench.OnSaleMarkdown(results); sales != "" {
		fmt.Print("\n" + sales)
	}
	return nil
}

// splitArg splits "label=path" at its last "=" (a label may hold "=", as
// in "distinct c=16"). An argument that is an existing file as a whole, or
// holds no "=", is a path labelled by its file name.
func splitArg(arg string) (label, path string) {
	i := strings.LastIndex(arg, "=")
	if _, err := os.Stat(arg); err == nil || i < 0 {
		return strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg)), arg
	}
	return arg[:i], arg[i+1:]
}
