package certs

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestServerCertHosts(t *testing.T) {
	tests := []struct {
		name      string
		machine   string
		addrs     []string
		extraSANs []string
		want      []string
	}{
		{
			name:    "public and private addresses first, then name, loopback, SANs",
			machine: "node-1",
			addrs:   []string{"47.0.0.10", "172.16.0.5"},
			extraSANs: []string{
				"docker.example.test", "10.1.1.1",
			},
			want: []string{"47.0.0.10", "172.16.0.5", "node-1", "localhost", "127.0.0.1", "docker.example.test", "10.1.1.1"},
		},
		{
			name:    "no addresses yet",
			machine: "dev",
			want:    []string{"dev", "localhost", "127.0.0.1"},
		},
		{
			name:      "duplicates keep their first position",
			machine:   "node-1",
			addrs:     []string{"10.0.0.7", "10.0.0.7", "127.0.0.1"},
			extraSANs: []string{"node-1", "localhost", "10.0.0.7", "extra"},
			want:      []string{"10.0.0.7", "127.0.0.1", "node-1", "localhost", "extra"},
		},
		{
			name:      "empty and blank entries dropped",
			machine:   "",
			addrs:     []string{"", "  ", "10.0.0.7"},
			extraSANs: []string{""},
			want:      []string{"10.0.0.7", "localhost", "127.0.0.1"},
		},
		{
			name:      "names compare case-insensitively, IPs by value",
			machine:   "Node-1",
			addrs:     []string{"fe80::1", " 10.0.0.7 "},
			extraSANs: []string{"node-1", "FE80:0:0:0:0:0:0:1", "LOCALHOST", "10.0.0.7"},
			want:      []string{"fe80::1", "10.0.0.7", "Node-1", "localhost", "127.0.0.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ServerCertHosts(tc.machine, tc.addrs, tc.extraSANs))
		})
	}
}
