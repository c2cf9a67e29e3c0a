package main

import (
	"regexp"
	"strings"
)

// The causes a failed command is counted under, read from what it printed.
// The cloud's own error code names the cause when the CLI quotes one: the
// aliyunecs driver writes "Action failed: Code: message", the AWS SDK
// "api error Code: message".
var (
	throttleCode = regexp.MustCompile(`\b(Throttling(\.[A-Za-z]+)?|RequestLimitExceeded)\b`)
	serverCode   = regexp.MustCompile(`\b(ServiceUnavailable|InternalError|Unavailable)\b`)
	quotedCode   = regexp.MustCompile(`(?:failed: |api error )([A-Z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*)`)
	otherCauses  = []struct {
		cause string
		re    *regexp.Regexp
	}{
		{"interrupted", regexp.MustCompile(`(?i)\binterrupted\b`)},
		{"timeout", regexp.MustCompile(`(?i)timed out|deadline exceeded|too many retries|\btimeout\b`)},
		{"tls", regexp.MustCompile(`(?i)x509|\btls\b|certificate`)},
		{"ssh", regexp.MustCompile(`(?i)\bssh\b`)},
		{"docker daemon", regexp.MustCompile(`(?i)docker daemon|cannot connect to the docker|docker engine`)},
		{"not found", regexp.MustCompile(`(?i)not found|does not exist|no such`)},
	}
)

// causeOf names why a command failed: "throttled" and "server error" for
// the injected kinds (with their code), the quoted API error code, or a
// kind of failure seen in the text; "other" when nothing matches.
func causeOf(output string) string {
	if m := throttleCode.FindString(output); m != "" {
		return "throttled (" + m + ")"
	}
	if m := serverCode.FindString(output); m != "" {
		return "server error (" + m + ")"
	}
	if m := quotedCode.FindStringSubmatch(output); m != nil {
		return m[1]
	}
	for _, c := range otherCauses {
		if c.re.MatchString(output) {
			return c.cause
		}
	}
	return "other"
}

// lastLine is the last non-empty line of output, where the CLI says what
// went wrong, cut to a readable length.
func lastLine(output string) string {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 300 {
		line = line[:300] + "..."
	}
	return line
}
