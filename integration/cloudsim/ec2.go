package cloudsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The EC2 Query API, version 2016-11-15, on the same port as the Alibaba
// Cloud APIs: a request whose Version is 2016-11-15 is EC2's. It is signed
// with Signature Version 4 (service ec2, the region of the credential scope)
// and answered in XML.

const ec2Version = "2016-11-15"

const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ec2Handler answers one EC2 action with the children of its response
// element (requestId is added).
type ec2Handler func(c *ec2Call) ([]xnode, error)

// ec2Call is one EC2 API call being answered.
type ec2Call struct {
	s         *Server
	r         *http.Request
	action    string
	p         params
	region    *ec2Region
	requestID string
	accessKey string
}

// isEC2 tells an EC2 request from an Alibaba Cloud one: signed with SigV4,
// or carrying EC2's Version (an unsigned request still gets EC2's answer).
// The body is read and put back.
func isEC2(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-") || r.URL.Query().Get("Version") == ec2Version {
		return true
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	form, err := url.ParseQuery(string(body))
	return err == nil && form.Get("Version") == ec2Version
}

func (s *Server) serveEC2(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	now := time.Now()
	call := Call{Time: now.UTC(), RequestID: requestID, Product: "Ec2", Version: ec2Version}
	fail := func(e *APIError, injected bool) {
		s.recordFailure(r, &call, e, injected)
		writeEC2Error(w, e, requestID)
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		fail(ec2Errorf("InvalidAction", "HTTP method %s is not supported; EC2 takes POST (or GET).", r.Method), false)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		fail(ec2Errorf("InvalidParameterValue", "The request body cannot be read: %v", err), false)
		return
	}
	values := r.URL.Query()
	if r.Method == http.MethodPost && len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			fail(ec2Errorf("InvalidParameterValue", "The request body is not form-encoded: %v", err), false)
			return
		}
		for k, vs := range form {
			values[k] = append(values[k], vs...)
		}
	}
	call.Action = values.Get("Action")
	auth, e := s.verifySigV4(r, body, now)
	if e != nil {
		fail(e, false)
		return
	}
	call.RegionID = auth.region
	if call.Action == "" {
		fail(ec2Errorf("MissingAction", "The request must contain the parameter Action."), false)
		return
	}
	h := s.ec2.actions[call.Action]
	if h == nil {
		fail(ec2Errorf("InvalidAction", "The action %s is not valid for this web service (EC2 %s here).", call.Action, ec2Version), false)
		return
	}
	if v := values.Get("Version"); v != ec2Version {
		fail(ec2Errorf("InvalidParameterValue", "Version %q is not served: this endpoint speaks EC2 %s.", v, ec2Version), false)
		return
	}
	region := findEC2Region(auth.region)
	if region == nil {
		fail(ec2Errorf("AuthFailure", "Credential should be scoped to a valid region, not '%s'.", auth.region), false)
		return
	}
	f, waited := s.applyFaults(r.Context(), "Ec2", call.Action, auth.accessKey, ec2Error("RequestLimitExceeded", ""))
	if !waited {
		return // the caller went away
	} else if f.err != nil && !f.after {
		fail(f.err, f.injected)
		return
	}
	p := flatten(values)
	c := &ec2Call{s: s, r: r, action: call.Action, p: p, region: region, requestID: requestID, accessKey: auth.accessKey}
	if strings.HasPrefix(call.Action, "Describe") || strings.HasPrefix(call.Action, "Get") {
		// Read-only actions change nothing: a dry run stops here.
		h = dryRunFirst(h)
	}
	kids, err := h(c)
	if f.after {
		fail(f.err, true) // carried out, answered with the error
		return
	}
	if err != nil {
		fail(s.asAPIError(err, &call, ec2Error), false)
		return
	}
	call.Status = http.StatusOK
	s.calls.record(call)
	s.log.Debug("cloudsim: EC2 API call", "action", call.Action, "request_id", requestID)
	root := elem(call.Action+"Response", append([]xnode{leaf("requestId", requestID)}, kids...)...)
	root.attrs = []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: ec2Namespace}}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	root.write(&buf)
	ec2Headers(w, requestID, buf.Len())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// ec2Headers sets the answer's headers; the length is given so that every
// answer, however long, ends where the client expects it.
func ec2Headers(w http.ResponseWriter, requestID string, length int) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(length))
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("X-Amz-Request-Id", requestID)
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
}

// writeEC2Error writes EC2's error document.
func writeEC2Error(w http.ResponseWriter, e *APIError, requestID string) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	elem("Response",
		elem("Errors", elem("Error", leaf("Code", e.Code), leaf("Message", e.Message))),
		leaf("RequestID", requestID),
	).write(&buf)
	ec2Headers(w, requestID, buf.Len())
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
}

// ec2ErrorTable lists the EC2 error codes the simulator answers with, their
// HTTP status and message, from the EC2 API reference's error codes. Injected
// faults naming an EC2 action use it too.
var ec2ErrorTable = map[string]APIError{
	"AuthFailure":                           {http.StatusUnauthorized, "", "AWS was not able to validate the provided access credentials"},
	"SignatureDoesNotMatch":                 {http.StatusForbidden, "", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."},
	"IncompleteSignature":                   {http.StatusBadRequest, "", "The request signature does not conform to AWS standards."},
	"MissingAuthenticationToken":            {http.StatusUnauthorized, "", "The request must contain either a valid (registered) AWS access key ID or X.509 certificate."},
	"RequestExpired":                        {http.StatusBadRequest, "", "Request has expired."},
	"UnauthorizedOperation":                 {http.StatusForbidden, "", "You are not authorized to perform this operation."},
	"RequestLimitExceeded":                  {http.StatusServiceUnavailable, "", "Request limit exceeded."},
	"Unavailable":                           {http.StatusServiceUnavailable, "", "The server is overloaded and can't handle the request."},
	"InternalError":                         {http.StatusInternalServerError, "", "An internal error has occurred."},
	"InsufficientInstanceCapacity":          {http.StatusInternalServerError, "", "We currently do not have sufficient capacity in the Availability Zone you requested."},
	"DryRunOperation":                       {http.StatusPreconditionFailed, "", "Request would have succeeded, but DryRun flag is set."},
	"MissingParameter":                      {http.StatusBadRequest, "", "The request must contain the parameter."},
	"MissingAction":                         {http.StatusBadRequest, "", "The request must contain the parameter Action."},
	"InvalidAction":                         {http.StatusBadRequest, "", "The action is not valid for this web service."},
	"InvalidParameterValue":                 {http.StatusBadRequest, "", "A value specified in a parameter is not valid."},
	"InvalidParameterCombination":           {http.StatusBadRequest, "", "Indicates an incorrect combination of parameters, or a missing parameter."},
	"InvalidParameter":                      {http.StatusBadRequest, "", "A parameter specified in a request is not valid."},
	"UnknownParameter":                      {http.StatusBadRequest, "", "An unknown or unrecognized parameter was supplied."},
	"InvalidNextToken":                      {http.StatusBadRequest, "", "The specified NextToken is not valid."},
	"IdempotentParameterMismatch":           {http.StatusBadRequest, "", "The request uses the same client token as a previous, but non-identical request."},
	"InvalidKeyPair.Duplicate":              {http.StatusBadRequest, "", "The keypair already exists."},
	"InvalidKeyPair.NotFound":               {http.StatusBadRequest, "", "The key pair does not exist."},
	"InvalidKeyPair.Format":                 {http.StatusBadRequest, "", "Key is not in valid OpenSSH public key format."},
	"InvalidGroup.Duplicate":                {http.StatusBadRequest, "", "The security group already exists."},
	"InvalidGroup.NotFound":                 {http.StatusBadRequest, "", "The security group does not exist."},
	"InvalidGroupId.Malformed":              {http.StatusBadRequest, "", "The security group ID is malformed."},
	"InvalidGroup.Reserved":                 {http.StatusBadRequest, "", "The name 'default' is reserved."},
	"CannotDelete":                          {http.StatusBadRequest, "", "You cannot delete the 'default' security group in your VPC."},
	"InvalidPermission.Duplicate":           {http.StatusBadRequest, "", "The specified rule already exists."},
	"InvalidPermission.NotFound":            {http.StatusBadRequest, "", "The specified rule does not exist in this security group."},
	"InvalidPermission.Malformed":           {http.StatusBadRequest, "", "The specified security group rule is malformed."},
	"DependencyViolation":                   {http.StatusBadRequest, "", "The specified object has dependent resources."},
	"InvalidInstanceID.NotFound":            {http.StatusBadRequest, "", "The instance ID does not exist."},
	"InvalidInstanceID.Malformed":           {http.StatusBadRequest, "", "The instance ID is malformed."},
	"IncorrectInstanceState":                {http.StatusBadRequest, "", "The instance is not in a state that allows this operation."},
	"InvalidAMIID.NotFound":                 {http.StatusBadRequest, "", "The image ID does not exist."},
	"InvalidAMIID.Malformed":                {http.StatusBadRequest, "", "The image ID is malformed."},
	"InvalidVpcID.NotFound":                 {http.StatusBadRequest, "", "The VPC ID does not exist."},
	"InvalidSubnetID.NotFound":              {http.StatusBadRequest, "", "The subnet ID does not exist."},
	"InvalidSubnet.Range":                   {http.StatusBadRequest, "", "The CIDR block is not inside the VPC."},
	"InvalidSubnet.Conflict":                {http.StatusBadRequest, "", "The CIDR block conflicts with another subnet."},
	"InvalidVpc.Range":                      {http.StatusBadRequest, "", "The CIDR block is not a valid VPC block."},
	"InvalidVolume.NotFound":                {http.StatusBadRequest, "", "The volume does not exist."},
	"VolumeInUse":                           {http.StatusBadRequest, "", "The volume is attached to an instance."},
	"InvalidBlockDeviceMapping":             {http.StatusBadRequest, "", "The block device mapping is not valid."},
	"InvalidSpotInstanceRequestID.NotFound": {http.StatusBadRequest, "", "The spot instance request ID does not exist."},
	"InvalidID":                             {http.StatusBadRequest, "", "The ID is not valid."},
	"InvalidInstanceType":                   {http.StatusBadRequest, "", "The instance type is not supported."},
	"InvalidAvailabilityZone":               {http.StatusBadRequest, "", "The availability zone does not exist."},
	"InvalidRegion":                         {http.StatusBadRequest, "", "The region does not exist."},
	"InvalidUserData.Malformed":             {http.StatusBadRequest, "", "The user data is not valid base64."},
	"TagLimitExceeded":                      {http.StatusBadRequest, "", "The resource would have more than 50 tags."},
	"InvalidSecurityGroupID.NotFound":       {http.StatusBadRequest, "", "The security group ID does not exist."},
	"MaxSpotInstanceCountExceeded":          {http.StatusBadRequest, "", "The maximum number of spot instances was exceeded."},
}

// ec2Error returns the EC2 error for code (400 when the code is unknown),
// with msg replacing the table's message when given.
func ec2Error(code, msg string) *APIError { return tableError(ec2ErrorTable, code, msg) }

func ec2Errorf(code, format string, args ...any) *APIError {
	return ec2Error(code, fmt.Sprintf(format, args...))
}

func ec2Missing(name string) *APIError {
	return ec2Errorf("MissingParameter", "The request must contain the parameter %s", name)
}

func ec2Invalid(format string, args ...any) *APIError {
	return ec2Errorf("InvalidParameterValue", format, args...)
}

// SigV4 verification, exactly as the service checks it.

// maxSigV4Skew is how far X-Amz-Date may be from the simulator's clock.
const maxSigV4Skew = 15 * time.Minute

type sigV4Auth struct {
	accessKey, region string
}

// verifySigV4 checks the Authorization header of an EC2 request: the scope
// (date, region, service ec2), the date within 15 minutes, the access key
// (the configured one, or temporary credentials the metadata service issued
// with their session token) and the signature over the canonical request.
func (s *Server) verifySigV4(r *http.Request, body []byte, now time.Time) (sigV4Auth, *APIError) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return sigV4Auth{}, ec2Error("MissingAuthenticationToken", "")
	}
	algo, rest, _ := strings.Cut(authz, " ")
	if algo != "AWS4-HMAC-SHA256" {
		return sigV4Auth{}, ec2Errorf("IncompleteSignature", "Unsupported signing algorithm %q: use AWS4-HMAC-SHA256.", algo)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	cred, signedList, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || signedList == "" || sig == "" {
		return sigV4Auth{}, ec2Error("IncompleteSignature", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return sigV4Auth{}, ec2Errorf("IncompleteSignature", "Credential %q is not of the form KEY/DATE/REGION/SERVICE/aws4_request.", cred)
	}
	auth := sigV4Auth{accessKey: scope[0], region: scope[2]}
	if scope[3] != "ec2" {
		return auth, ec2Errorf("SignatureDoesNotMatch", "Credential should be scoped to correct service: 'ec2'.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return auth, ec2Errorf("IncompleteSignature", "X-Amz-Date %q is not of the form YYYYMMDDTHHMMSSZ.", amzDate)
	}
	if d := now.Sub(t); d > maxSigV4Skew || d < -maxSigV4Skew {
		return auth, ec2Errorf("RequestExpired", "Request has expired: X-Amz-Date %s is more than 15 minutes from the server's time %s.", amzDate, now.UTC().Format("20060102T150405Z"))
	}
	if scope[1] != amzDate[:8] {
		return auth, ec2Errorf("SignatureDoesNotMatch", "Credential should be scoped to a valid date: %s, not %s.", amzDate[:8], scope[1])
	}
	secret, token, ok := s.awsSecret(auth.accessKey)
	if !ok {
		return auth, ec2Error("AuthFailure", "")
	}
	signed := strings.Split(signedList, ";")
	if !slices.Contains(signed, "host") {
		return auth, ec2Error("SignatureDoesNotMatch", "'Host' must be a signed header.")
	}
	if token != "" && (r.Header.Get("X-Amz-Security-Token") != token || !slices.Contains(signed, "x-amz-security-token")) {
		return auth, ec2Error("AuthFailure", "The security token included in the request is invalid.")
	}
	want := sigV4Signature(secret, scope[1], scope[2], scope[3], amzDate, canonicalRequest(r, signed, body))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return auth, ec2Error("SignatureDoesNotMatch", "")
	}
	return auth, nil
}

// canonicalRequest is SigV4's canonical form of r over the signed headers.
func canonicalRequest(r *http.Request, signed []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path + "\n")
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var pairs []string
	for _, k := range keys {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			pairs = append(pairs, sigV4Escape(k)+"="+sigV4Escape(v))
		}
	}
	b.WriteString(strings.Join(pairs, "&") + "\n")
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		b.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// sigV4Escape is SigV4's URI encoding: unreserved characters stay, the rest
// is %XX.
func sigV4Escape(s string) string {
	return strings.ReplaceAll(percentEncode(s), "%7E", "~")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// sigV4Signature signs a canonical request with the secret's derived key.
func sigV4Signature(secret, date, region, service, amzDate, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + date + "/" + region + "/" + service + "/aws4_request\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

// SignEC2 signs req (whose body is body) with SigV4 for service ec2 in
// region, for tests and tools that build raw EC2 requests.
func SignEC2(req *http.Request, body []byte, accessKeyID, secret, sessionToken, region string, now time.Time) {
	amzDate := now.UTC().Format("20060102T150405Z")
	req.Header.Set("X-Amz-Date", amzDate)
	req.ContentLength = int64(len(body))
	signed := []string{"content-type", "host", "x-amz-date"}
	if sessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", sessionToken)
		signed = append(signed, "x-amz-security-token")
	}
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	sig := sigV4Signature(secret, amzDate[:8], region, "ec2", amzDate, canonicalRequest(req, signed, body))
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s/%s/ec2/aws4_request, SignedHeaders=%s, Signature=%s",
		accessKeyID, amzDate[:8], region, strings.Join(signed, ";"), sig))
}

// XML answers: a small ordered tree, written the way EC2 writes it.

type xnode struct {
	name  string
	text  string
	leaf  bool
	attrs []xml.Attr
	kids  []xnode
}

// leaf is an element holding a value: strings as they are, booleans as
// true/false, times in RFC 3339 with milliseconds.
func leaf(name string, v any) xnode {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case bool:
		s = strconv.FormatBool(t)
	case int:
		s = strconv.Itoa(t)
	case int64:
		s = strconv.FormatInt(t, 10)
	case time.Time:
		s = t.UTC().Format("2006-01-02T15:04:05.000Z")
	default:
		s = fmt.Sprint(t)
	}
	return xnode{name: name, text: s, leaf: true}
}

func elem(name string, kids ...xnode) xnode { return xnode{name: name, kids: kids} }

// set is EC2's list: <nameSet><item>...</item>...</nameSet> (name given in full).
func set(name string, items []xnode) xnode {
	for i := range items {
		items[i].name = "item"
	}
	return xnode{name: name, kids: items}
}

// item is one member of a set.
func item(kids ...xnode) xnode { return elem("item", kids...) }

// optional leaves out an empty value, as EC2 omits unset members.
func optional(name, v string) []xnode {
	if v == "" {
		return nil
	}
	return []xnode{leaf(name, v)}
}

func (n xnode) write(w *bytes.Buffer) {
	w.WriteString("<" + n.name)
	for _, a := range n.attrs {
		w.WriteString(" " + a.Name.Local + `="`)
		_ = xml.EscapeText(w, []byte(a.Value))
		w.WriteString(`"`)
	}
	w.WriteString(">")
	if n.leaf {
		_ = xml.EscapeText(w, []byte(n.text))
	}
	for _, k := range n.kids {
		k.write(w)
	}
	w.WriteString("</" + n.name + ">")
}

// tagSet renders tags.
func tagSet(tags []tag) xnode {
	items := make([]xnode, 0, len(tags))
	for _, t := range tags {
		items = append(items, item(leaf("key", t.Key), leaf("value", t.Value)))
	}
	return set("tagSet", items)
}

// dryRunFirst answers DryRunOperation before a read-only action runs.
func dryRunFirst(h ec2Handler) ec2Handler {
	return func(c *ec2Call) ([]xnode, error) {
		if err := c.dryRun(); err != nil {
			return nil, err
		}
		return h(c)
	}
}
