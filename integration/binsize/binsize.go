// Package binsize builds the repository's binaries as releases are built
// (stripped) and says how big they are and which packages make them so.
package binsize

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// StockCLI is the size of the stock docker-machine 0.16.2 CLI, stripped,
// with its 15 built-in drivers: the CLI with all of ours must not be bigger.
const StockCLI = 26_700_000

// CLI is the command that has every driver built in.
const CLI = "docker-machine"

// Plugins are the driver plugin binaries; each must be smaller than the CLI.
var Plugins = []string{
	"docker-machine-driver-aliyunecs",
	"docker-machine-driver-amazonec2",
	"docker-machine-driver-virtualbox",
}

// Binary is one built command.
type Binary struct {
	Name  string
	Path  string
	Bytes int64
}

// Build compiles each command under ./cmd of the module at root into dir,
// with the linker flags given (release builds use "-s -w"), and returns
// them in the order asked.
func Build(root, dir, ldflags string, names ...string) ([]Binary, error) {
	pkgs := make([]string, len(names))
	for i, n := range names {
		pkgs[i] = "./cmd/" + n
	}
	args := append([]string{"build", "-ldflags=" + ldflags, "-o", dir + string(os.PathSeparator)}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w: %s", strings.Join(pkgs, " "), err, out)
	}
	bins := make([]Binary, len(names))
	for i, n := range names {
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("the build of %s left no binary: %w", n, err)
		}
		bins[i] = Binary{Name: n, Path: p, Bytes: fi.Size()}
	}
	return bins, nil
}

// MB is bytes in decimal megabytes, as release sizes are quoted.
func MB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// Package is the share of one Go package in a binary.
type Package struct {
	Path  string
	Bytes int64
}

// Packages sums the sizes of an unstripped binary's symbols by Go package,
// biggest first. Symbols in sections that take no room in the file (bss)
// are left out; pclntab and other runtime tables are not split by
// package, so the sum is less than the file.
func Packages(binary string) ([]Package, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", binary, err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("reading the symbols of %s (is it stripped?): %w", binary, err)
	}
	sums := map[string]int64{}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) || s.Size == 0 {
			continue
		}
		if f.Sections[s.Section].Type == elf.SHT_NOBITS {
			continue
		}
		sums[PackageOf(s.Name)] += int64(s.Size)
	}
	list := make([]Package, 0, len(sums))
	for p, n := range sums {
		list = append(list, Package{p, n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Bytes != list[j].Bytes {
			return list[i].Bytes > list[j].Bytes
		}
		return list[i].Path < list[j].Path
	})
	return list, nil
}

// PackageOf is the import path of the package a Go symbol belongs to, e.g.
// "github.com/aws/aws-sdk-go-v2/service/ec2" for
// "type:*github.com/aws/aws-sdk-go-v2/service/ec2.Client" or
// "github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).RunInstances".
// Symbols of no package (runtime tables, unnamed types) keep their name up
// to the first dot.
func PackageOf(sym string) string {
	for _, p := range []string{"type:", "go:itab.", ".eq.", "*"} {
		sym = strings.TrimPrefix(sym, p)
	}
	// Generic instantiations name other packages inside brackets, an
	// itab its interface after a comma.
	if i := strings.IndexAny(sym, "[(,"); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndex(sym, "/")
	if dot := strings.Index(sym[slash+1:], "."); dot >= 0 {
		return sym[:slash+1+dot]
	}
	return sym
}
