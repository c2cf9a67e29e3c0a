package cloudsim

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Signature version 1.0 of the RPC-style APIs (ECS, VPC, SLB):
//
//	canonical  = sorted key=value pairs of every parameter but Signature, each
//	             part percent-encoded per RFC 3986, joined with '&'
//	toSign     = METHOD + "&" + enc("/") + "&" + enc(canonical)
//	Signature  = base64(HMAC-SHA1(AccessKeySecret + "&", toSign))
//
// Parameters come from the query string and, for POST, from a form-encoded
// body: the SDK signs both, so the verifier does too.

// maxClockSkew is how far Timestamp may be from the simulator's clock, and how
// long a SignatureNonce is remembered.
const maxClockSkew = 15 * time.Minute

// percentEncode encodes per RFC 3986: unreserved characters stay, everything
// else becomes %XX of its UTF-8 bytes (so ' ' is %20 and '*' is %2A).
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// canonicalQuery builds the sorted, encoded parameter string.
func canonicalQuery(values url.Values) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range values {
		if k == "Signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, pair{percentEncode(k), percentEncode(v)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// stringToSign is what the HMAC covers.
func stringToSign(method string, values url.Values) string {
	return strings.ToUpper(method) + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(values))
}

// computeSignature signs toSign with the secret the way the services do.
func computeSignature(toSign, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(toSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignValues adds the common parameters and the signature to values, for
// callers that build raw requests (tests, tools without the SDK). now is the
// signing time; nonce must be unique.
func SignValues(method string, values url.Values, accessKeyID, secret, nonce string, now time.Time) {
	values.Set("AccessKeyId", accessKeyID)
	values.Set("SignatureMethod", "HMAC-SHA1")
	values.Set("SignatureVersion", "1.0")
	values.Set("SignatureNonce", nonce)
	values.Set("Timestamp", now.UTC().Format("2006-01-02T15:04:05Z"))
	if values.Get("Format") == "" {
		values.Set("Format", "JSON")
	}
	values.Del("Signature")
	values.Set("Signature", computeSignature(stringToSign(method, values), secret))
}

// parseTimestamp accepts the documented ISO 8601 UTC form, with or without
// fractional seconds.
func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// nonceCache remembers SignatureNonce values for maxClockSkew to refuse
// replays. Entries expire lazily.
type nonceCache struct {
	mu     sync.Mutex
	seen   map[string]time.Time
	pruned time.Time
}

// use records nonce for accessKeyID and reports whether it was fresh.
func (c *nonceCache) use(accessKeyID, nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if now.Sub(c.pruned) > time.Minute {
		for k, t := range c.seen {
			if now.Sub(t) > 2*maxClockSkew {
				delete(c.seen, k)
			}
		}
		c.pruned = now
	}
	key := accessKeyID + "\x00" + nonce
	if t, ok := c.seen[key]; ok && now.Sub(t) <= 2*maxClockSkew {
		return false
	}
	c.seen[key] = now
	return true
}

func (c *nonceCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = nil
}

// verifySignature checks the common authentication parameters of a request.
// secrets maps AccessKeyId to AccessKeySecret.
func verifySignature(method string, values url.Values, secrets map[string]string, nonces *nonceCache, now time.Time) *APIError {
	for _, name := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"} {
		if values.Get(name) == "" {
			return errMissing(name)
		}
	}
	if values.Get("SignatureMethod") != "HMAC-SHA1" {
		return newErrorf("IncompleteSignature", "The request signature does not conform to Aliyun standards: SignatureMethod %q is not supported, use HMAC-SHA1.", values.Get("SignatureMethod"))
	}
	if values.Get("SignatureVersion") != "1.0" {
		return newErrorf("IncompleteSignature", "The request signature does not conform to Aliyun standards: SignatureVersion %q is not supported, use 1.0.", values.Get("SignatureVersion"))
	}
	id := values.Get("AccessKeyId")
	secret, ok := secrets[id]
	if !ok {
		return newError("InvalidAccessKeyId.NotFound", "")
	}
	ts, ok := parseTimestamp(values.Get("Timestamp"))
	if !ok {
		return newError("InvalidTimeStamp.Format", "")
	}
	if d := now.Sub(ts); d > maxClockSkew || d < -maxClockSkew {
		return newError("InvalidTimeStamp.Expired", "")
	}
	toSign := stringToSign(method, values)
	want := computeSignature(toSign, secret)
	if !hmac.Equal([]byte(want), []byte(values.Get("Signature"))) {
		// The real message ends with the server's string to sign; the SDK
		// compares it with its own to tell a wrong secret from a signing bug.
		return newError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:"+toSign)
	}
	if !nonces.use(id, values.Get("SignatureNonce"), now) {
		return newError("SignatureNonceUsed", "")
	}
	return nil
}
