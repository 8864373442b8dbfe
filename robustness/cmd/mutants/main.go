// Command mutants lists the robustness suite's deliberately broken builds
// and checks that each still compiles against today's code: it vets the
// packages each mutant changes with its go build -overlay, and with -build
// also links a seatd binary of each. CI runs it from the module root:
//
//	go run ./robustness/cmd/mutants          # vet every mutant
//	go run ./robustness/cmd/mutants -build   # and build each seatd
//	go run ./robustness/cmd/mutants -list    # print the table only
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seatd/seatd/robustness"
)

func main() {
	list := flag.Bool("list", false, "print the mutants and exit")
	build := flag.Bool("build", false, "also build a seatd binary of each mutant")
	flag.Parse()
	if *list {
		for _, m := range robustness.Mutants {
			var files []string
			for _, f := range m.Files {
				files = append(files, f.Target)
			}
			fmt.Printf("%-13s %s [%s]\n", m.Name, m.Breaks, strings.Join(files, ", "))
		}
		return
	}
	if err := check(*build); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func check(build bool) error {
	root, err := robustness.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "seatd-mutants-")
	if err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	failed := 0
	for i := range robustness.Mutants {
		m := &robustness.Mutants[i]
		err := robustness.VetMutant(root, dir, m)
		if err == nil && build {
			err = robustness.BuildSeatd(root, dir, filepath.Join(dir, "seatd-"+m.Name), m)
		}
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %v\n", m.Name, err)
			continue
		}
		fmt.Printf("ok   %s\n", m.Name)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d mutants do not compile", failed, len(robustness.Mutants))
	}
	return nil
}
