package cloudsim

import (
	"context"
	"fmt"
	"sync"
)

// InstanceSpec is what a backend needs to run an instance's host.
type InstanceSpec struct {
	ID       string
	RegionID string
	ZoneID   string
	// HostName is the host's hostname (HostName parameter, else the
	// InstanceName when it is a valid hostname, else iZ<id>Z).
	HostName string
	ImageID  string
	// PrivateIP is the address allocated in the instance's VSwitch. A backend
	// whose hosts get their address elsewhere reports that one from Start.
	PrivateIP string
	// Password is the root password given at creation (a secret).
	Password string
	// AuthorizedKeys holds the key pair's public key, if any.
	AuthorizedKeys []string
	// SudoUser is the image's login user, who gets the same keys and
	// password-less sudo ("ecs-user" when empty; "ubuntu" on EC2's Ubuntu
	// images).
	SudoUser string
	// UserData is the decoded user data, run once at first boot.
	UserData []byte
}

// Addresses are where an instance's host answers.
type Addresses struct {
	PrivateIP string
}

// InstanceBackend runs the hosts behind instances. The simulator calls it
// outside its state lock, never twice at once for one instance except Delete,
// which may overlap a slow Start and must win.
type InstanceBackend interface {
	// Name identifies the backend in logs ("none", "container").
	Name() string
	// Create records a new instance; its host does not run yet.
	Create(ctx context.Context, spec InstanceSpec) error
	// Start boots the instance's host (the first time, or again after Stop)
	// and returns its addresses.
	Start(ctx context.Context, id string) (Addresses, error)
	// Stop shuts the host down, keeping its disk.
	Stop(ctx context.Context, id string) error
	// Delete removes the host and everything it had; unknown IDs are fine.
	Delete(ctx context.Context, id string) error
	// Addresses reports the host's current addresses.
	Addresses(ctx context.Context, id string) (Addresses, error)
	// Close releases whatever the backend still holds.
	Close(ctx context.Context) error
}

// NoneBackend runs no hosts: instances exist only in the API. Their private
// IP is the one allocated in the VSwitch, which nothing answers on.
type NoneBackend struct {
	mu    sync.Mutex
	specs map[string]InstanceSpec
}

// NewNoneBackend returns a backend without hosts.
func NewNoneBackend() *NoneBackend { return &NoneBackend{specs: map[string]InstanceSpec{}} }

func (b *NoneBackend) Name() string { return "none" }

func (b *NoneBackend) Create(_ context.Context, spec InstanceSpec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.specs[spec.ID] = spec
	return nil
}

func (b *NoneBackend) Start(ctx context.Context, id string) (Addresses, error) {
	return b.Addresses(ctx, id)
}

func (b *NoneBackend) Stop(context.Context, string) error { return nil }

func (b *NoneBackend) Delete(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.specs, id)
	return nil
}

func (b *NoneBackend) Addresses(_ context.Context, id string) (Addresses, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	spec, ok := b.specs[id]
	if !ok {
		return Addresses{}, fmt.Errorf("instance %s is unknown to the none backend", id)
	}
	return Addresses{PrivateIP: spec.PrivateIP}, nil
}

func (b *NoneBackend) Close(context.Context) error { return nil }
