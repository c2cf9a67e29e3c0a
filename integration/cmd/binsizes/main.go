// Command binsizes builds the CLI and the driver plugins stripped, as
// releases are, and prints their sizes against the stock CLI's; with -top
// it also lists the packages that weigh most in the CLI.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fleetdock/machine/integration/binsize"
)

func main() {
	top := flag.Int("top", 0, "also list the N biggest packages of the CLI (builds it once more, unstripped)")
	flag.Parse()
	if err := run(*top); err != nil {
		fmt.Fprintln(os.Stderr, "binsizes:", err)
		os.Exit(1)
	}
}

func run(top int) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return fmt.Errorf("run this inside the repository (go env GOMOD: %v)", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	dir, err := os.MkdirTemp("", "binsizes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bins, err := binsize.Build(root, dir, "-s -w", append([]string{binsize.CLI}, binsize.Plugins...)...)
	if err != nil {
		return err
	}
	fmt.Printf("%-34s %12s %9s\n", "binary (stripped)", "bytes", "size")
	for _, b := range bins {
		fmt.Printf("%-34s %12d %9s\n", b.Name, b.Bytes, binsize.MB(b.Bytes))
	}
	fmt.Printf("%-34s %12d %9s\n", "stock docker-machine 0.16.2", binsize.StockCLI, binsize.MB(binsize.StockCLI))
	if top <= 0 {
		return nil
	}
	full, err := binsize.Build(root, filepath.Join(dir, "full"), "", binsize.CLI)
	if err != nil {
		return err
	}
	pkgs, err := binsize.Packages(full[0].Path)
	if err != nil {
		return err
	}
	fmt.Printf("\nbiggest packages of %s (symbol bytes, unstripped build):\n", binsize.CLI)
	for _, p := range pkgs[:min(top, len(pkgs))] {
		fmt.Printf("%12d %9s  %s\n", p.Bytes, binsize.MB(p.Bytes), p.Path)
	}
	return nil
}
