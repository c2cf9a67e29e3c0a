package aliyunecs

import (
	"reflect"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/assert"

	"github.com/fleetdock/machine/drivers/internal/typegraph"
)

// The driver's types never name the generated product clients: if they
// did, the linker would keep every API action of ECS, VPC and SLB in the
// CLI and the plugin (see product). integration/binsize checks the sizes
// themselves.
func TestDriverTypesDoNotReachTheProductClients(t *testing.T) {
	for _, c := range []reflect.Type{reflect.TypeFor[ecs.Client](), reflect.TypeFor[vpc.Client](), reflect.TypeFor[slb.Client]()} {
		assert.Nil(t, typegraph.Path(reflect.TypeFor[*Driver](), c), c.String())
	}
}
