package listformat

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type row struct{ Name, State string }

var headers = map[string]string{"Name": "NAME", "State": "STATE"}

func TestTableTemplatesGetHeadersAndAlignedColumns(t *testing.T) {
	var out bytes.Buffer
	rows := []row{{"a", "Running"}, {"long-name", "Stopped"}}
	require.NoError(t, Write(&out, "", `table {{.Name}}\t{{.State}}`, headers, rows))
	assert.Equal(t, "NAME        STATE\na           Running\nlong-name   Stopped\n", out.String())

	out.Reset()
	require.NoError(t, Write(&out, "{{.Name}}={{.State}}", `table {{.Name}}`, headers, rows))
	assert.Equal(t, "a=Running\nlong-name=Stopped\n", out.String(), "a plain template has no header")
}

func TestBadTemplatesSaySo(t *testing.T) {
	var out bytes.Buffer
	err := Write(&out, "{{.Name", "", headers, []row{{"a", "b"}})
	assert.ErrorContains(t, err, "invalid --format template")
	err = Write(&out, "{{.Nope}}", "", headers, []row{{"a", "b"}})
	assert.ErrorContains(t, err, "applying the --format template")
}
