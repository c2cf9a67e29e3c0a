package binsize

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPackageOf(t *testing.T) {
	for sym, want := range map[string]string{
		"github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).RunInstances":  "github.com/aws/aws-sdk-go-v2/service/ec2",
		"type:*github.com/aws/aws-sdk-go-v2/service/ec2.Client":            "github.com/aws/aws-sdk-go-v2/service/ec2",
		"go:itab.*github.com/a/b.T,github.com/c/d.I":                       "github.com/a/b",
		".eq.github.com/aliyun/alibaba-cloud-sdk-go/services/ecs.Instance": "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs",
		"slices.SortFunc[go.shape.[]github.com/x/y.T]":                     "slices",
		"runtime.mallocgc": "runtime",
		"go:func.*":        "go:func",
		"github.com/fleetdock/machine/drivers/amazonec2.newEC2Calls.func1": "github.com/fleetdock/machine/drivers/amazonec2",
		"vendor/golang.org/x/crypto/chacha20poly1305.chacha20Poly1305Open": "vendor/golang.org/x/crypto/chacha20poly1305",
	} {
		assert.Equal(t, want, PackageOf(sym), sym)
	}
}
