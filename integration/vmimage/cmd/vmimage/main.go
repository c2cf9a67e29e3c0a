// Command vmimage builds the test VM image (if needed) and prints its path,
// or with -serve serves it on loopback until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetdock/machine/integration/vmimage"
)

func main() {
	serve := flag.Bool("serve", false, "serve the image on 127.0.0.1 and print its URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	img, err := vmimage.Ensure(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmimage:", err)
		os.Exit(1)
	}
	fmt.Println(img.Path)
	if !*serve {
		return
	}
	srv, err := vmimage.Serve(img)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmimage:", err)
		os.Exit(1)
	}
	defer srv.Close()
	fmt.Println(srv.ImageURL())
	fmt.Println(srv.ChecksumURL())
	<-ctx.Done()
}
