package amazonec2

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"

	"github.com/fleetdock/machine/drivers/internal/typegraph"
)

// The driver's types never name the EC2 client: if they did, the linker
// would keep all of EC2's operations in the CLI and the plugin (see
// ec2Calls). integration/binsize checks the sizes themselves.
func TestDriverTypesDoNotReachTheEC2Client(t *testing.T) {
	assert.Nil(t, typegraph.Path(reflect.TypeFor[*Driver](), reflect.TypeFor[ec2.Client]()))
}
