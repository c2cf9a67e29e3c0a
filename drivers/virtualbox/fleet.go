package virtualbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/libmachine/capability"
)

var _ capability.FleetReporter = (*Driver)(nil)

// errNoVM is what a look-up of machine's VM says when VirtualBox has none.
func errNoVM(machine string) error {
	return fmt.Errorf("VirtualBox has no VM named %q: %w; run 'docker-machine rm -f %s' to forget the machine", machine, ErrMachineNotExist, machine)
}

// Statuses tells the state of many machines with one `VBoxManage list
// --long vms`, mapped as GetState maps showvminfo's VMState, and their
// Docker URL when it needs no look-up in the VM (a NAT forward, or a
// stored host-only address).
func (d *Driver) Statuses(ctx context.Context, configs [][]byte) ([]capability.MachineStatus, error) {
	out, err := d.vbm(ctx, "list", "--long", "vms")
	if err != nil {
		return nil, fmt.Errorf("listing VirtualBox's VMs: %w", err)
	}
	states := parseLongList(out)
	statuses := make([]capability.MachineStatus, len(configs))
	for i, raw := range configs {
		m := NewDriver("", "")
		if err := json.Unmarshal(raw, m); err != nil {
			statuses[i] = capability.MachineStatus{State: state.Error, Err: fmt.Sprintf("reading the virtualbox driver configuration: %v; the machine's config.json may be damaged", err)}
			continue
		}
		info, ok := states[m.MachineName]
		if !ok {
			statuses[i] = capability.MachineStatus{State: state.Error, Err: errNoVM(m.MachineName).Error()}
			continue
		}
		st := info.state()
		statuses[i] = capability.MachineStatus{State: st}
		if ip, known := m.knownIP(); st == state.Running && known {
			statuses[i].URL = m.urlAt(ip)
		}
	}
	return statuses, nil
}

// vmStates are showvminfo's human-readable states with their
// machine-readable names (VBoxManageInfo.cpp's machineStateToName).
var vmStates = map[string]string{
	"powered off": "poweroff", "saved": "saved", "teleported": "teleported", "aborted": "aborted",
	"aborted-saved": "abortedsaved", "running": "running", "paused": "paused", "guru meditation": "gurumeditation",
	"teleporting": "teleporting", "live snapshotting": "livesnapshotting", "starting": "starting",
	"stopping": "stopping", "saving": "saving", "restoring": "restoring",
	"teleporting paused vm": "teleportingpausedvm", "teleporting (incoming)": "teleportingin",
	"deleting snapshot live": "deletingsnapshotlive", "deleting snapshot paused": "deletingsnapshotlivepaused",
	"online snapshotting": "onlinesnapshotting", "restoring snapshot": "restoringsnapshot",
	"deleting snapshot": "deletingsnapshot", "setting up": "settingup", "offline snapshotting": "offlinesnapshotting",
}

// parseLongList reads `list --long vms`, showvminfo's human-readable
// details of every VM, into each VM's VMState by name. A VM starts at a
// "Name:" line; shared folders' "Name: 'x', Host path: ..." lines are
// quoted and are not one.
func parseLongList(out string) map[string]vmInfo {
	vms := map[string]vmInfo{}
	var name string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch {
		case k == "Name" && !strings.HasPrefix(v, "'"):
			name = v
			vms[name] = vmInfo{}
		case k == "State" && name != "" && vms[name]["VMState"] == "":
			human, _, _ := strings.Cut(v, " (since ")
			vms[name] = vmInfo{"VMState": vmStates[human]}
		}
	}
	return vms
}
