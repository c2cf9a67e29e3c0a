package portrule

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReadsPortsRangesAndProtocols(t *testing.T) {
	for in, want := range map[string]Rule{
		"8080":          {From: 8080, To: 8080, Proto: "tcp"},
		" 53/UDP ":      {From: 53, To: 53, Proto: "udp"},
		"9000-9010/udp": {From: 9000, To: 9010, Proto: "udp"},
		"1-65535/tcp":   {From: 1, To: 65535, Proto: "tcp"},
	} {
		r, err := Parse("x-open-port", in)
		require.NoError(t, err, in)
		assert.Equal(t, want, r, in)
	}
	assert.Equal(t, "8080/tcp", Rule{From: 8080, To: 8080, Proto: "tcp"}.String())
	assert.Equal(t, "9000-9010/udp", Rule{From: 9000, To: 9010, Proto: "udp"}.String())
}

func TestParseNamesTheFlagInItsErrors(t *testing.T) {
	_, err := Parse("x-open-port", "80/icmp")
	assert.EqualError(t, err, `--x-open-port "80/icmp": protocol must be tcp or udp`)
	for _, in := range []string{"", "0", "65536", "10-5", "a-b", "80-"} {
		_, err := Parse("x-open-port", in)
		assert.EqualError(t, err, `--x-open-port "`+in+`": use PORT, PORT/PROTO or FROM-TO/PROTO with ports 1-65535`)
	}
}

func TestInboundPutsTheFixedPortsFirstAndDropsRepeats(t *testing.T) {
	got := Inbound([]string{"2376/tcp", "8080/tcp", "8080", "9000-9010/udp", "bad"}, 22, 2376)
	assert.Equal(t, []Rule{
		{From: 22, To: 22, Proto: "tcp"}, {From: 2376, To: 2376, Proto: "tcp"},
		{From: 8080, To: 8080, Proto: "tcp"}, {From: 9000, To: 9010, Proto: "udp"},
	}, got)
}
