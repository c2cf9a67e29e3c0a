package amazonec2

import (
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func containsGroup(list []types.SecurityGroup, id string) bool {
	for _, g := range list {
		if deref(g.GroupId) == id {
			return true
		}
	}
	return false
}

func createGroupInput(name, vpc string) *ec2.CreateSecurityGroupInput {
	return &ec2.CreateSecurityGroupInput{GroupName: ptr(name), Description: ptr("made by hand"), VpcId: ptr(vpc)}
}

func rpcFlags(v map[string]any) *rpcdriver.RPCFlags { return &rpcdriver.RPCFlags{Values: v} }

// sdkClient is a client with the driver's options (endpoint, credentials,
// retries, middleware), for the operations tests make and the driver
// does not (ec2Calls holds only the driver's own).
func sdkClient(a *api) *ec2.Client { return ec2.New(a.ec2.Options()) }
