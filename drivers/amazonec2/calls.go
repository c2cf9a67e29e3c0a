package amazonec2

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// ec2Calls are the EC2 operations the driver makes, as method values of one
// *ec2.Client, so a.ec2.DescribeInstances(ctx, in) reads as the SDK call it
// is. To use another operation, add a field and set it in newEC2Calls.
//
// The driver never holds the *ec2.Client itself: a type the driver's types
// refer to, or a value converted to an interface, makes the linker keep
// every method of it, i.e. all of EC2's ~2,500 operations (about 20 MB).
// The paginators get the one operation they page through (the *Func types).
type ec2Calls struct {
	AuthorizeSecurityGroupIngress func(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	CancelSpotInstanceRequests    func(context.Context, *ec2.CancelSpotInstanceRequestsInput, ...func(*ec2.Options)) (*ec2.CancelSpotInstanceRequestsOutput, error)
	CreateSecurityGroup           func(context.Context, *ec2.CreateSecurityGroupInput, ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	DeleteKeyPair                 func(context.Context, *ec2.DeleteKeyPairInput, ...func(*ec2.Options)) (*ec2.DeleteKeyPairOutput, error)
	DeleteSecurityGroup           func(context.Context, *ec2.DeleteSecurityGroupInput, ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
	DescribeAccountAttributes     func(context.Context, *ec2.DescribeAccountAttributesInput, ...func(*ec2.Options)) (*ec2.DescribeAccountAttributesOutput, error)
	DescribeImages                describeImagesFunc
	DescribeInstances             describeInstancesFunc
	DescribeKeyPairs              func(context.Context, *ec2.DescribeKeyPairsInput, ...func(*ec2.Options)) (*ec2.DescribeKeyPairsOutput, error)
	DescribeSecurityGroups        describeSecurityGroupsFunc
	DescribeSpotInstanceRequests  func(context.Context, *ec2.DescribeSpotInstanceRequestsInput, ...func(*ec2.Options)) (*ec2.DescribeSpotInstanceRequestsOutput, error)
	DescribeSubnets               describeSubnetsFunc
	GetEbsEncryptionByDefault     func(context.Context, *ec2.GetEbsEncryptionByDefaultInput, ...func(*ec2.Options)) (*ec2.GetEbsEncryptionByDefaultOutput, error)
	ImportKeyPair                 func(context.Context, *ec2.ImportKeyPairInput, ...func(*ec2.Options)) (*ec2.ImportKeyPairOutput, error)
	RebootInstances               func(context.Context, *ec2.RebootInstancesInput, ...func(*ec2.Options)) (*ec2.RebootInstancesOutput, error)
	RunInstances                  func(context.Context, *ec2.RunInstancesInput, ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	StartInstances                func(context.Context, *ec2.StartInstancesInput, ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error)
	StopInstances                 func(context.Context, *ec2.StopInstancesInput, ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
	TerminateInstances            func(context.Context, *ec2.TerminateInstancesInput, ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)

	// Options are the client's resolved options (credentials, endpoint,
	// retryer, middleware).
	Options func() ec2.Options
}

func newEC2Calls(c *ec2.Client) ec2Calls {
	return ec2Calls{
		AuthorizeSecurityGroupIngress: c.AuthorizeSecurityGroupIngress,
		CancelSpotInstanceRequests:    c.CancelSpotInstanceRequests,
		CreateSecurityGroup:           c.CreateSecurityGroup,
		DeleteKeyPair:                 c.DeleteKeyPair,
		DeleteSecurityGroup:           c.DeleteSecurityGroup,
		DescribeAccountAttributes:     c.DescribeAccountAttributes,
		DescribeImages:                c.DescribeImages,
		DescribeInstances:             c.DescribeInstances,
		DescribeKeyPairs:              c.DescribeKeyPairs,
		DescribeSecurityGroups:        c.DescribeSecurityGroups,
		DescribeSpotInstanceRequests:  c.DescribeSpotInstanceRequests,
		DescribeSubnets:               c.DescribeSubnets,
		GetEbsEncryptionByDefault:     c.GetEbsEncryptionByDefault,
		ImportKeyPair:                 c.ImportKeyPair,
		RebootInstances:               c.RebootInstances,
		RunInstances:                  c.RunInstances,
		StartInstances:                c.StartInstances,
		StopInstances:                 c.StopInstances,
		TerminateInstances:            c.TerminateInstances,
		Options:                       c.Options,
	}
}

// The operations the SDK's paginators take, each as the one-method
// interface the paginator wants (ec2.Describe*APIClient).
type (
	describeImagesFunc         func(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	describeInstancesFunc      func(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	describeSecurityGroupsFunc func(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	describeSubnetsFunc        func(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
)

func (f describeImagesFunc) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, o ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return f(ctx, in, o...)
}

func (f describeInstancesFunc) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return f(ctx, in, o...)
}

func (f describeSecurityGroupsFunc) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, o ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	return f(ctx, in, o...)
}

func (f describeSubnetsFunc) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, o ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	return f(ctx, in, o...)
}
