package cloudsim

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The worked example of the ECS signature documentation: AccessKeyId
// "testid", secret "testsecret".
func TestSignatureDocumentedExample(t *testing.T) {
	v := url.Values{
		"Action": {"DescribeRegions"}, "Version": {"2014-05-26"}, "Format": {"XML"}, "AccessKeyId": {"testid"},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"},
		"SignatureNonce": {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"}, "Timestamp": {"2016-02-23T12:46:24Z"},
	}
	toSign := stringToSign("GET", v)
	assert.Equal(t, "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"+
		"%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"+
		"%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26", toSign)
	assert.Equal(t, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=", computeSignature(toSign, "testsecret"))
}

func TestPercentEncodeFollowsRFC3986(t *testing.T) {
	assert.Equal(t, "a%20b%2Ac~d-_.%2F%E4%B8%AD", percentEncode("a b*c~d-_./中"))
}

func TestVerifySignature(t *testing.T) {
	secrets := map[string]string{"id": "secret"}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	fresh := func() url.Values {
		v := url.Values{"Action": {"DescribeRegions"}, "Version": {"2014-05-26"}, "Empty": {""}}
		SignValues("POST", v, "id", "secret", "n-1", now)
		return v
	}
	var nonces nonceCache
	require.Nil(t, verifySignature("POST", fresh(), secrets, &nonces, now.Add(14*time.Minute)), "14 minutes of skew pass")
	e := verifySignature("POST", fresh(), secrets, &nonces, now)
	require.NotNil(t, e)
	assert.Equal(t, "SignatureNonceUsed", e.Code)

	var other nonceCache
	e = verifySignature("POST", fresh(), secrets, &other, now.Add(-16*time.Minute))
	require.NotNil(t, e)
	assert.Equal(t, "InvalidTimeStamp.Expired", e.Code)
	assert.Len(t, other.seen, 0, "a refused request does not use up its nonce")

	v := fresh()
	v.Set("Timestamp", "yesterday")
	e = verifySignature("POST", v, secrets, &other, now)
	require.NotNil(t, e)
	assert.Equal(t, "InvalidTimeStamp.Format", e.Code)
}
