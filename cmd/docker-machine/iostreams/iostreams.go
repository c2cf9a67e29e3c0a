// Package iostreams holds the standard streams of one docker-machine
// invocation and what is known about the terminal behind them, so commands
// ask one value instead of probing file descriptors, and tests swap in
// buffers and say whether the output is a terminal.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// defaultWidth is the width assumed when the output is not a terminal or
// its size cannot be read.
const defaultWidth = 100

// IOStreams are the input, output and error streams of a command.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	width     int
}

// New wraps the given streams, detecting whether out is a terminal and how
// wide it is.
func New(in io.Reader, out, errOut io.Writer) *IOStreams {
	s := &IOStreams{In: in, Out: out, ErrOut: errOut, width: defaultWidth}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.stdoutTTY = true
		// A very narrow size is a terminal that did not report one.
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			s.width = cols
		}
	}
	return s
}

// System is the process's own standard streams.
func System() *IOStreams { return New(os.Stdin, os.Stdout, os.Stderr) }

// Test returns streams over buffers: stdin reads in, and nothing is a
// terminal until SetStdoutTTY says so.
func Test(in string) (s *IOStreams, out, errOut *bytes.Buffer) {
	out, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	return New(bytes.NewBufferString(in), out, errOut), out, errOut
}

// IsStdoutTTY reports whether Out is a terminal, where output may redraw
// lines in place.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// SetStdoutTTY overrides the detection.
func (s *IOStreams) SetStdoutTTY(tty bool) { s.stdoutTTY = tty }

// TerminalWidth is the width of the terminal behind Out in columns.
func (s *IOStreams) TerminalWidth() int { return s.width }

// SetTerminalWidth overrides the detected width.
func (s *IOStreams) SetTerminalWidth(cols int) { s.width = cols }
