//go:build integration

package e2e

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/e2e/interrupt"
	"github.com/fleetdock/machine/integration/hostworld"
)

// exitBound is how long an interrupted command may take to exit: generous,
// since the machine running the tests is shared; the bench measures.
const exitBound = 20 * time.Second

func interruptWorld(t *testing.T, container bool) *interrupt.World {
	t.Helper()
	if container {
		hostworld.RequireDocker(t)
	}
	w, err := interrupt.NewWorld(t.Context(), interrupt.Options{
		CLI: machineCLI(t), Store: filepath.Join(t.TempDir(), "store"), Container: container,
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, w.Close()) })
	return w
}

// A real SIGINT at each point of a real create: the CLI exits 130 within
// the bound, the cloud holds nothing of the machine and the store has no
// entry for it.
func TestInterruptCreateAtEachPoint(t *testing.T) {
	for _, pt := range interrupt.Points {
		t.Run(pt.Name, func(t *testing.T) {
			w := interruptWorld(t, pt.Container)
			before := w.UserResources()
			name := "intr"
			res, err := w.Interrupt(t.Context(), pt, name, 3*time.Minute, exitBound)
			require.NoError(t, err, "output:\n%s", res.Output)
			t.Logf("%s: SIGINT to exit took %s", pt.Name, res.ToExit.Round(time.Millisecond))
			assert.Equal(t, 130, res.Code, "an interrupted create exits 130; output:\n%s", res.Output)
			assert.Contains(t, res.Output, "Received interrupt: stopping")
			assert.Contains(t, res.Output, `creating "intr" was interrupted during`)
			assert.NotContains(t, res.Output, "Successfully", "output:\n%s", res.Output)
			assert.Equal(t, before, w.UserResources(), "nothing of the machine is left in the cloud; output:\n%s", res.Output)
			assert.False(t, w.HasEntry(name), "no store entry is left")
		})
	}
}

// Two SIGINTs: the second stops the rollback, which is stuck in slow
// deletes. The entry stays, the error names what remains and the command
// that finishes the job, rm without the credentials refuses and keeps the
// entry, and rm with them removes everything.
func TestInterruptTwiceLeavesEntryForRm(t *testing.T) {
	w := interruptWorld(t, false)
	before := w.UserResources()
	name := "twice"
	out := leftover(t, w, name)
	inst, ok := w.InstanceOf(name)
	require.True(t, ok, "the instance is still there")
	assert.Contains(t, out, "instance "+inst.ID)
	assert.Regexp(t, `key pair \S+`, out)
	assert.Regexp(t, `security group sg-\S+`, out)
	assert.Contains(t, out, "docker-machine rm "+name)
	assert.True(t, w.HasEntry(name), "the entry stays for rm")

	// A shell without the credentials: rm fails and keeps the entry.
	p, err := interrupt.Start(w.CLI, nil, "-s", w.Store, "rm", "-y", name)
	require.NoError(t, err)
	code, _, err := p.Wait(time.Minute)
	require.NoError(t, err)
	assert.NotEqual(t, 0, code, "output:\n%s", p.Output())
	assert.NotContains(t, p.Output(), "Successfully removed")
	assert.Contains(t, p.Output(), "ECS_ACCESS_KEY_ID", "it says which credentials it needs")
	assert.Contains(t, p.Output(), "The machine stays listed")
	assert.True(t, w.HasEntry(name), "without -f a removal that cannot reach the cloud keeps the entry")

	p, err = w.Start("rm", "-y", name)
	require.NoError(t, err)
	code, _, err = p.Wait(time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "output:\n%s", p.Output())
	assert.Contains(t, p.Output(), "Successfully removed "+name)
	assert.False(t, w.HasEntry(name))
	assert.Equal(t, before, w.UserResources(), "rm finished what the rollback left")
}

// `rm -f` in a shell without the cloud credentials drops the entry but
// exits non-zero and names every resource that remains, with its ID and
// region.
func TestRmForceWithoutCredentialsNamesWhatRemains(t *testing.T) {
	w := interruptWorld(t, false)
	before := w.UserResources()
	name := "nocreds"
	leftover(t, w, name)
	inst, ok := w.InstanceOf(name)
	require.True(t, ok)
	r := w.Sim.Resources()
	require.Len(t, r.KeyPairs, 1)
	require.Len(t, r.SecurityGroups, 1)

	p, err := interrupt.Start(w.CLI, nil, "-s", w.Store, "rm", "-f", name)
	require.NoError(t, err)
	code, _, err := p.Wait(time.Minute)
	require.NoError(t, err)
	out := p.Output()
	t.Logf("rm -f without credentials:\n%s", out)
	assert.NotEqual(t, 0, code, "output:\n%s", out)
	assert.NotContains(t, out, "Successfully removed")
	region := inst.RegionID
	assert.Contains(t, out, "instance "+inst.ID+" in "+region, out)
	assert.Contains(t, out, "key pair "+r.KeyPairs[0].Name+" in "+region, out)
	assert.Contains(t, out, "security group "+r.SecurityGroups[0].ID+" in "+region, out)
	assert.False(t, w.HasEntry(name), "-f drops the entry")

	_, ok = w.InstanceOf(name)
	assert.True(t, ok, "what it named does remain")
	assert.NotEqual(t, before, w.UserResources())
}

// leftover makes a machine whose create was interrupted twice: once while
// the instance boots, then while the rollback is deleting it. It returns
// the create's output.
func leftover(t *testing.T, w *interrupt.World, name string) string {
	t.Helper()
	ctx := t.Context()
	f := cloudsim.DefaultFaults()
	f.BootTime = cloudsim.Duration(interrupt.BootTime)
	slow := cloudsim.Duration(time.Minute)
	f.ActionLatency = map[string]cloudsim.Duration{"DeleteInstance": slow, "DeleteSecurityGroup": slow, "DeleteKeyPairs": slow}
	require.NoError(t, w.Sim.SetFaults(f))
	p, err := w.Start(w.CreateArgs(name)...)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	require.NoError(t, interrupt.Points[2].Reached(rctx, w, p, name), p.Output())
	require.NoError(t, p.Signal(syscall.SIGINT))
	require.NoError(t, w.Watch.WaitInFlight(rctx, "DeleteInstance"), p.Output())
	require.NoError(t, p.Signal(syscall.SIGINT))
	code, d, err := p.Wait(exitBound)
	require.NoError(t, err, p.Output())
	out := p.Output()
	t.Logf("two SIGINTs: first signal to exit took %s; output:\n%s", d.Round(time.Millisecond), out)
	assert.Equal(t, 130, code, "output:\n%s", out)
	assert.Contains(t, out, "Received interrupt again: stopping the cleanup")
	assert.Contains(t, out, "the cleanup was interrupted")
	require.NoError(t, w.Sim.SetFaults(cloudsim.DefaultFaults()))
	return out
}
