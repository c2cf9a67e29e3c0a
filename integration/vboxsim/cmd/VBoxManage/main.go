// Command VBoxManage is the test stand-in for VirtualBox's VBoxManage; see
// package vboxsim.
package main

import (
	"os"

	"github.com/fleetdock/machine/integration/vboxsim"
)

func main() { os.Exit(vboxsim.Main(os.Args[1:])) }
