// Package listformat prints rows through a --format Go template, as the
// stock `ls` does: a template starting with "table" gets a header row and
// aligned columns; `\t` and `\n` in the template stand for a tab and a
// newline.
package listformat

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
)

// Write prints rows through format (defaultFormat when it is empty).
// headers maps each field name to its column title for the header row.
func Write[T any](w io.Writer, format, defaultFormat string, headers map[string]string, rows []T) error {
	tmpl, table, err := parse(format, defaultFormat)
	if err != nil {
		return err
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 5, 1, 3, ' ', 0)
		out = tw
		if err := tmpl.Execute(out, headers); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if err := tmpl.Execute(out, r); err != nil {
			return fmt.Errorf("applying the --format template: %w", err)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func parse(format, defaultFormat string) (*template.Template, bool, error) {
	if format == "" {
		format = defaultFormat
	}
	table := false
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		table = true
		format = rest
	}
	format = strings.Trim(format, " ")
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("ls").Parse(format + "\n")
	if err != nil {
		return nil, false, fmt.Errorf("invalid --format template: %w", err)
	}
	return t, table, nil
}
