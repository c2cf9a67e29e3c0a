package cloudsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The instance metadata service, IMDSv2, on the API port under /latest/: what
// the AWS SDKs' credential chain asks for at its instance-role step.
//
//	PUT /latest/api/token   with X-aws-ec2-metadata-token-ttl-seconds (1-21600): a session token
//	GET /latest/meta-data/iam/security-credentials/        the role name
//	GET /latest/meta-data/iam/security-credentials/ROLE    temporary credentials (JSON)
//
// GETs need a live token in X-aws-ec2-metadata-token (401 without), as on an
// instance with HttpTokens required. The credentials are accepted by the EC2
// endpoint with their session token until they expire.

// IMDSRole is the name of the role the metadata service serves.
const IMDSRole = "cloudsim-instance-role"

// imdsCredentialLife is how long issued credentials stay valid.
const imdsCredentialLife = 6 * time.Hour

type imdsState struct {
	mu     sync.Mutex
	tokens map[string]time.Time // session token -> expiry
	creds  map[string]imdsCred  // access key -> credentials
}

type imdsCred struct {
	secret, token string
	expires       time.Time
}

func newIMDS() *imdsState {
	return &imdsState{tokens: map[string]time.Time{}, creds: map[string]imdsCred{}}
}

// lookup returns the secret and session token of issued credentials.
func (m *imdsState) lookup(accessKey string, now time.Time) (string, string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[accessKey]
	if !ok || now.After(c.expires) {
		return "", "", false
	}
	return c.secret, c.token, true
}

func (m *imdsState) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens = map[string]time.Time{}
	m.creds = map[string]imdsCred{}
}

func (s *Server) serveIMDS(w http.ResponseWriter, r *http.Request) {
	m := s.imds
	now := time.Now()
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			http.Error(w, "", http.StatusMethodNotAllowed)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		token := randomID(56)
		m.mu.Lock()
		m.tokens[token] = now.Add(time.Duration(ttl) * time.Second)
		m.mu.Unlock()
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(token))
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "", http.StatusMethodNotAllowed)
		return
	}
	m.mu.Lock()
	exp, ok := m.tokens[r.Header.Get("X-aws-ec2-metadata-token")]
	m.mu.Unlock()
	if !ok || now.After(exp) {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	const prefix = "/latest/meta-data/iam/security-credentials/"
	switch rest, found := strings.CutPrefix(r.URL.Path, prefix); {
	case r.URL.Path == "/latest/meta-data/iam/security-credentials" || (found && rest == ""):
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(IMDSRole))
	case found && rest == IMDSRole:
		id := "ASIA" + strings.ToUpper(randomID(16))
		c := imdsCred{secret: randomID(40), token: randomID(200), expires: now.Add(imdsCredentialLife)}
		m.mu.Lock()
		m.creds[id] = c
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Code": "Success", "LastUpdated": now.UTC().Format(time.RFC3339), "Type": "AWS-HMAC",
			"AccessKeyId": id, "SecretAccessKey": c.secret, "Token": c.token, "Expiration": c.expires.UTC().Format(time.RFC3339),
		})
	default:
		http.NotFound(w, r)
	}
}
