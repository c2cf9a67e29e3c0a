package ssh

import (
	"os"
	"strconv"
	"strings"
)

// shellQuote makes s one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellQuoteIfNeeded leaves plain paths readable in messages.
func shellQuoteIfNeeded(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@,") == "" {
		return s
	}
	return shellQuote(s)
}

// quoteRemotePath quotes a remote path but keeps a leading ~ meaning the remote
// user's home, as scp does.
func quoteRemotePath(p string) string {
	switch {
	case p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + shellQuote(p[2:])
	}
	return shellQuote(p)
}

// unixMode renders a FileMode as the octal chmod argument, including the
// setuid, setgid and sticky bits that Go keeps outside Perm().
func unixMode(m os.FileMode) string {
	v := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		v |= 0o1000
	}
	return "0" + strconv.FormatUint(uint64(v), 8)
}
