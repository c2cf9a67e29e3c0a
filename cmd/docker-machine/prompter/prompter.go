// Package prompter asks the user questions on the terminal, the way the
// stock CLI does, behind an interface commands receive rather than read
// stdin themselves.
package prompter

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Prompter asks questions.
type Prompter interface {
	// Confirm asks a yes/no question. Only an answer starting with y (or
	// Y) is yes; anything else, an empty line or the end of the input is no.
	Confirm(question string) (bool, error)
}

// New returns a prompter that writes questions to out and reads the
// answers from in.
func New(in io.Reader, out io.Writer) Prompter { return &linePrompter{in: in, out: out} }

type linePrompter struct {
	in  io.Reader
	out io.Writer
}

func (p *linePrompter) Confirm(question string) (bool, error) {
	fmt.Fprintf(p.out, "%s (y/n): ", question)
	line, err := bufio.NewReader(p.in).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y"), nil
}
