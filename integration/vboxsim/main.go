package vboxsim

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main is the VBoxManage binary: it runs one command line against the
// state folder named by $VBOXSIM_HOME and returns the exit code.
func Main(args []string) int {
	if len(args) == 2 && args[0] == forwarderArg {
		return RunForwarder(args[1])
	}
	home := os.Getenv(HomeEnv)
	if home == "" {
		fmt.Fprintf(os.Stderr, "%s%s is not set: this VBoxManage is the test stand-in and keeps its state in that folder\n", errPrefix, HomeEnv)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, Env{Home: home, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}
