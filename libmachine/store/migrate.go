package store

import (
	"encoding/json"
	"errors"
	"path/filepath"

	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
)

// The layouts config.json had before version 3, as far as migration needs
// them. Version 0 was flat (docker-machine before 0.2); version 1 nested the
// options but called the CA key PrivateKeyPath; version 2 is version 3
// without StorePath in the driver state.

type configV0 struct {
	Driver         json.RawMessage
	DriverName     string
	StorePath      string // the machine directory
	CaCertPath     string
	PrivateKeyPath string
	ServerCertPath string
	ServerKeyPath  string
	ClientCertPath string
	ClientKeyPath  string
	SwarmHost      string
	SwarmMaster    bool
	SwarmDiscovery string
}

// authOptionsV1 is the later Auth with the CA key called PrivateKeyPath.
// Version 1 has no CertDir, CaPrivateKeyPath or ServerCertSANs.
type authOptionsV1 struct {
	hostopts.Auth
	PrivateKeyPath string
}

type optionsV1 struct {
	Driver        string
	Memory        int
	Disk          int
	EngineOptions *hostopts.Engine
	SwarmOptions  *hostopts.Swarm
	AuthOptions   *authOptionsV1
}

type configV1 struct {
	Driver      json.RawMessage
	DriverName  string
	HostOptions *optionsV1
	StorePath   string // the machine directory
}

type configV2 struct {
	Driver      json.RawMessage
	DriverName  string
	HostOptions *host.Options
	Name        string
	StorePath   string // the machine directory; not in every version-2 file
}

// migrate turns a config of version 0, 1 or 2 into a version-3 host, step by
// step as docker-machine 0.16.2 does. Where stock would derive a path from a
// field the file lacks (and end up with "."), the store's own location is used.
func migrate(s *Store, name string, version int, data []byte) (*host.Host, error) {
	var v1 *configV1
	switch version {
	case 0:
		var v0 configV0
		if err := json.Unmarshal(data, &v0); err != nil {
			return nil, err
		}
		v1 = v0.toV1()
	case 1:
		v1 = &configV1{}
		if err := json.Unmarshal(data, v1); err != nil {
			return nil, err
		}
	}
	var v2 *configV2
	if v1 != nil {
		var err error
		if v2, err = v1.toV2(s, name); err != nil {
			return nil, err
		}
	} else {
		v2 = &configV2{}
		if err := json.Unmarshal(data, v2); err != nil {
			return nil, err
		}
	}
	return v2.toV3(s, name)
}

// toV1 nests the flat fields into HostOptions with the defaults stock gave.
func (c *configV0) toV1() *configV1 {
	return &configV1{
		Driver:     c.Driver,
		DriverName: c.DriverName,
		StorePath:  c.StorePath,
		HostOptions: &optionsV1{
			EngineOptions: &hostopts.Engine{TLSVerify: true, InstallURL: "https://get.docker.com"},
			SwarmOptions: &hostopts.Swarm{
				Discovery: c.SwarmDiscovery,
				Host:      c.SwarmHost,
				Master:    c.SwarmMaster,
			},
			AuthOptions: &authOptionsV1{
				Auth: hostopts.Auth{
					StorePath:      c.StorePath,
					CaCertPath:     c.CaCertPath,
					ServerCertPath: c.ServerCertPath,
					ServerKeyPath:  c.ServerKeyPath,
					ClientCertPath: c.ClientCertPath,
					ClientKeyPath:  c.ClientKeyPath,
				},
				PrivateKeyPath: c.PrivateKeyPath,
			},
		},
	}
}

// toV2 renames PrivateKeyPath to CaPrivateKeyPath and adds CertDir.
//
// Stock sets AuthOptions.StorePath to the store root here, although every
// other version (and GitLab Runner, which reads the client certificates from
// it) means the machine directory; the machine directory is kept instead.
func (c *configV1) toV2(s *Store, name string) (*configV2, error) {
	if c.HostOptions == nil || c.HostOptions.AuthOptions == nil {
		return nil, errors.New("HostOptions.AuthOptions is missing")
	}
	machineDir := c.StorePath
	if machineDir == "" {
		machineDir = s.MachineDir(name)
	}
	root, ok := storeRootOf(machineDir, name)
	if !ok {
		root = s.Path
	}
	o, a := c.HostOptions, c.HostOptions.AuthOptions
	auth := a.Auth
	auth.CertDir = filepath.Join(root, "certs")
	auth.CaPrivateKeyPath = a.PrivateKeyPath
	auth.StorePath = machineDir
	return &configV2{
		Driver:     c.Driver,
		DriverName: c.DriverName,
		Name:       name,
		StorePath:  machineDir,
		HostOptions: &host.Options{
			Driver:        o.Driver,
			Memory:        o.Memory,
			Disk:          o.Disk,
			EngineOptions: o.EngineOptions,
			SwarmOptions:  o.SwarmOptions,
			AuthOptions:   &auth,
		},
	}, nil
}

// toV3 puts the store root into the driver state as StorePath: plugin
// drivers resolve their files against it.
func (c *configV2) toV3(s *Store, name string) (*host.Host, error) {
	root, ok := storeRootOf(c.StorePath, name)
	if !ok && c.HostOptions != nil && c.HostOptions.AuthOptions != nil {
		root, ok = storeRootOf(c.HostOptions.AuthOptions.StorePath, name)
	}
	if !ok {
		root = s.Path
	}
	fields, err := decodeObject(c.Driver)
	if err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = name
	}
	return &host.Host{
		ConfigVersion: host.ConfigVersion,
		DriverName:    c.DriverName,
		HostOptions:   c.HostOptions,
		Name:          c.Name,
		RawDriver:     encodeObject(setStringField(fields, "StorePath", root)),
	}, nil
}
