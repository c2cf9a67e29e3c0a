package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/fleetdock/machine/libmachine/host"
)

// relocate rewrites, in memory, the paths of h that point into the store root
// the config was written in when that is not s.Path: a store copied from
// another home directory or mounted elsewhere still resolves every file.
// Paths outside the old root (a CA given with --tls-ca-cert, a user's own SSH
// key) are left alone.
func (s *Store) relocate(h *host.Host) error {
	fields, err := decodeObject(h.RawDriver)
	if err != nil {
		return err
	}
	old, ok := storeRootOf(h.HostOptions.AuthOptions.StorePath, h.Name)
	if !ok {
		if p, found := stringField(fields, "StorePath"); found && filepath.IsAbs(p) {
			old, ok = filepath.Clean(p), true
		}
	}
	root := filepath.Clean(s.Path)
	if !ok || old == root {
		return nil
	}
	move := func(p string) string {
		if !filepath.IsAbs(p) {
			return p
		}
		p = filepath.Clean(p)
		if p == old {
			return root
		}
		if rest, inside := strings.CutPrefix(p, old+string(filepath.Separator)); inside {
			return filepath.Join(root, rest)
		}
		return p
	}
	a := h.HostOptions.AuthOptions
	for _, p := range []*string{&a.CertDir, &a.CaCertPath, &a.CaPrivateKeyPath, &a.ServerCertPath,
		&a.ServerKeyPath, &a.ClientKeyPath, &a.ClientCertPath, &a.StorePath} {
		*p = move(*p)
	}
	changed := false
	for _, key := range []string{"StorePath", "SSHKeyPath"} {
		if p, found := stringField(fields, key); found {
			if moved := move(p); moved != p {
				fields = setStringField(fields, key, moved)
				changed = true
			}
		}
	}
	if changed {
		h.RawDriver = encodeObject(fields)
	}
	return nil
}

// storeRootOf returns the store root of an absolute machine directory
// ROOT/machines/NAME.
func storeRootOf(machineDir, name string) (string, bool) {
	if machineDir == "" || !filepath.IsAbs(machineDir) {
		return "", false
	}
	machineDir = filepath.Clean(machineDir)
	machines := filepath.Dir(machineDir)
	if filepath.Base(machineDir) != name || filepath.Base(machines) != "machines" {
		return "", false
	}
	return filepath.Dir(machines), true
}

// jsonField is one member of the driver's JSON object. The driver state is
// opaque to the store, so it is edited member by member, keeping the order
// and every other value exactly as the driver wrote them.
type jsonField struct {
	Key   string
	Value json.RawMessage
}

var errDriverNotObject = errors.New("has a Driver that is not a JSON object")

// decodeObject splits a JSON object into its members; null or nothing is an
// empty object.
func decodeObject(raw json.RawMessage) ([]jsonField, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errDriverNotObject
	}
	var fields []jsonField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("has an unreadable Driver (%w)", err)
		}
		key, _ := tok.(string) // the decoder only yields strings as keys
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("has an unreadable Driver (%w)", err)
		}
		fields = append(fields, jsonField{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("has an unreadable Driver (%w)", err)
	}
	return fields, nil
}

func encodeObject(fields []jsonField) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(f.Key) // marshalling a string cannot fail
		b.Write(key)
		b.WriteByte(':')
		b.Write(f.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func stringField(fields []jsonField, key string) (string, bool) {
	for _, f := range fields {
		if f.Key == key {
			var s string
			if json.Unmarshal(f.Value, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

// setStringField replaces the value of key, or appends key when absent.
func setStringField(fields []jsonField, key, value string) []jsonField {
	v, _ := json.Marshal(value)
	for i := range fields {
		if fields[i].Key == key {
			fields[i].Value = v
			return fields
		}
	}
	return append(fields, jsonField{Key: key, Value: v})
}
