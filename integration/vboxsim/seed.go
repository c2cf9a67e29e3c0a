package vboxsim

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"go.yaml.in/yaml/v3"
)

// Seed is what the container backend takes from a cloud-init NoCloud seed
// (an ISO 9660 volume labelled cidata): the users with their keys and sudo
// rules, and the hostname. Other cloud-config modules are not run.
type Seed struct {
	InstanceID string
	Hostname   string
	Users      []SeedUser
	// Mounts are cloud-config's mounts entries: fs_spec, mount point,
	// type, options.
	Mounts []SeedMount
}

// SeedMount is one cloud-config mounts entry.
type SeedMount struct {
	Spec, Point, Type, Options string
}

// SeedUser is one entry of the cloud-config users list.
type SeedUser struct {
	Name           string
	Sudo           []string
	Groups         []string
	Shell          string
	AuthorizedKeys []string
}

// debianDefaultUser is cloud-init's default user on Debian images.
const debianDefaultUser = "debian"

// ReadSeedISO reads a NoCloud seed ISO. It returns nil, nil when the image
// is not labelled cidata (any other DVD).
func ReadSeedISO(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fs, err := iso9660.Read(file.New(f, true), 0, 0, 2048)
	if err != nil {
		return nil, fmt.Errorf("reading ISO 9660 image %s: %w", path, err)
	}
	if !strings.EqualFold(strings.TrimSpace(fs.Label()), "cidata") {
		return nil, nil
	}
	read := func(name string) ([]byte, error) {
		data, err := fs.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("the cidata seed %s has no %s (NoCloud needs user-data and meta-data): %w", path, name, err)
		}
		return data, nil
	}
	userData, err := read("user-data")
	if err != nil {
		return nil, err
	}
	metaData, err := read("meta-data")
	if err != nil {
		return nil, err
	}
	return ParseSeed(userData, metaData)
}

var userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// ParseSeed interprets NoCloud user-data (#cloud-config) and meta-data the
// way cloud-init does for the modules the stand-in applies.
func ParseSeed(userData, metaData []byte) (*Seed, error) {
	var meta struct {
		InstanceID    string `yaml:"instance-id"`
		LocalHostname string `yaml:"local-hostname"`
	}
	if err := yaml.Unmarshal(metaData, &meta); err != nil {
		return nil, fmt.Errorf("the seed's meta-data is not YAML: %w", err)
	}
	s := &Seed{InstanceID: meta.InstanceID, Hostname: meta.LocalHostname}
	if !strings.HasPrefix(string(userData), "#cloud-config") {
		// A script or MIME archive: no users are configured, the default
		// user stays without keys.
		s.Users = []SeedUser{{Name: debianDefaultUser, Sudo: []string{"ALL=(ALL) NOPASSWD:ALL"}, Shell: "/bin/bash"}}
		return s, nil
	}
	var cc struct {
		Hostname string   `yaml:"hostname"`
		FQDN     string   `yaml:"fqdn"`
		Keys     []string `yaml:"ssh_authorized_keys"`
		Users    []any    `yaml:"users"`
		Mounts   [][]any  `yaml:"mounts"`
	}
	if err := yaml.Unmarshal(userData, &cc); err != nil {
		return nil, fmt.Errorf("the seed's user-data is not valid cloud-config YAML: %w", err)
	}
	if cc.Hostname != "" {
		s.Hostname = cc.Hostname
	} else if cc.FQDN != "" {
		s.Hostname, _, _ = strings.Cut(cc.FQDN, ".")
	}
	for _, m := range cc.Mounts {
		f := make([]string, 4)
		for i := 0; i < len(m) && i < 4; i++ {
			if v, ok := m[i].(string); ok {
				f[i] = v
			}
		}
		s.Mounts = append(s.Mounts, SeedMount{Spec: f[0], Point: f[1], Type: f[2], Options: f[3]})
	}
	defaultUser := SeedUser{Name: debianDefaultUser, Sudo: []string{"ALL=(ALL) NOPASSWD:ALL"}, Shell: "/bin/bash", AuthorizedKeys: cc.Keys}
	if cc.Users == nil {
		s.Users = []SeedUser{defaultUser}
		return s, nil
	}
	for _, u := range cc.Users {
		switch v := u.(type) {
		case string:
			if v == "default" {
				s.Users = append(s.Users, defaultUser)
				continue
			}
			s.Users = append(s.Users, SeedUser{Name: v, Shell: "/bin/sh"})
		case map[string]any:
			su := SeedUser{Shell: "/bin/sh"}
			su.Name, _ = v["name"].(string)
			if sh, ok := v["shell"].(string); ok {
				su.Shell = sh
			}
			su.Sudo = stringList(v["sudo"])
			su.Groups = splitGroups(v["groups"])
			su.AuthorizedKeys = stringList(v["ssh_authorized_keys"])
			if su.Name == "" {
				return nil, errors.New("a user in the seed's cloud-config has no name")
			}
			s.Users = append(s.Users, su)
		default:
			return nil, fmt.Errorf("the seed's cloud-config users entry %v is neither a name nor a mapping", u)
		}
	}
	for _, u := range s.Users {
		if !userName.MatchString(u.Name) {
			return nil, fmt.Errorf("the seed's user name %q is not a valid Linux user name", u.Name)
		}
		for _, k := range u.AuthorizedKeys {
			if strings.ContainsAny(k, "\r\n'") {
				return nil, fmt.Errorf("an SSH key of seed user %s spans lines or holds a quote", u.Name)
			}
		}
		for _, r := range u.Sudo {
			if strings.ContainsAny(r, "\r\n'") {
				return nil, fmt.Errorf("a sudo rule of seed user %s spans lines or holds a quote", u.Name)
			}
		}
	}
	return s, nil
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func splitGroups(v any) []string {
	var out []string
	for _, g := range stringList(v) {
		for p := range strings.SplitSeq(g, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// script is the shell script that applies the seed inside a Debian host,
// as cloud-init's users-groups, ssh and set-hostname modules would.
func (s *Seed) script() string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, u := range s.Users {
		fmt.Fprintf(&b, "id -u '%[1]s' >/dev/null 2>&1 || useradd --create-home --shell '%[2]s' '%[1]s'\n", u.Name, u.Shell)
		fmt.Fprintf(&b, "usermod -p '*' '%s'\n", u.Name)
		for _, g := range u.Groups {
			if !userName.MatchString(g) {
				continue
			}
			fmt.Fprintf(&b, "getent group '%[1]s' >/dev/null || groupadd '%[1]s'; usermod -aG '%[1]s' '%[2]s'\n", g, u.Name)
		}
		if len(u.Sudo) > 0 {
			fmt.Fprintf(&b, "rm -f /etc/sudoers.d/90-cloud-init-users-%s\n", u.Name)
			for _, r := range u.Sudo {
				if r == "false" || r == "" {
					continue
				}
				fmt.Fprintf(&b, "echo '%s %s' >> /etc/sudoers.d/90-cloud-init-users-%s\n", u.Name, r, u.Name)
			}
			fmt.Fprintf(&b, "[ -f /etc/sudoers.d/90-cloud-init-users-%[1]s ] && chmod 0440 /etc/sudoers.d/90-cloud-init-users-%[1]s\n", u.Name)
		}
		fmt.Fprintf(&b, "home=$(getent passwd '%s' | cut -d: -f6)\n", u.Name)
		fmt.Fprintf(&b, "install -d -m 0700 -o '%[1]s' -g \"$(id -gn '%[1]s')\" \"$home/.ssh\"\n", u.Name)
		fmt.Fprintf(&b, ": > \"$home/.ssh/authorized_keys\"\n")
		for _, k := range u.AuthorizedKeys {
			fmt.Fprintf(&b, "echo '%s' >> \"$home/.ssh/authorized_keys\"\n", k)
		}
		fmt.Fprintf(&b, "chown '%[1]s' \"$home/.ssh/authorized_keys\"; chmod 0600 \"$home/.ssh/authorized_keys\"\n", u.Name)
	}
	return b.String()
}
