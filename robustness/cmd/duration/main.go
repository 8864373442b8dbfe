// Command duration prints a Go duration (e.g. "1h30m") in whole seconds;
// scripts/soak.sh uses it to size go test's timeout.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: duration <go-duration>")
		os.Exit(2)
	}
	d, err := time.ParseDuration(os.Args[1])
	if err != nil || d <= 0 {
		fmt.Fprintf(os.Stderr, "duration: %q is not a positive Go duration (e.g. 30m, 1h)\n", os.Args[1])
		os.Exit(2)
	}
	fmt.Println(int(d.Seconds()))
}
