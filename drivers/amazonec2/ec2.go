package amazonec2

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/fleetdock/machine/drivers/internal/describe"
)

// The lookups below return nil, not an error, for a resource that does not
// exist: for their callers that is an answer.

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: ptr(name), Values: values}
}

// liveStates are the instance states a machine can still own resources in.
var liveStates = []string{"pending", "running", "stopping", "stopped", "shutting-down"}

func (a *api) instance(ctx context.Context, id string) (*types.Instance, error) {
	out, err := a.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	return describe.Find(err, isNotFound, func() (list []types.Instance) {
		for _, r := range out.Reservations {
			list = append(list, r.Instances...)
		}
		return list
	}, func(inst *types.Instance) bool { return deref(inst.InstanceId) == id })
}

// instances lists every instance matching the filters, over all pages.
func (a *api) instances(ctx context.Context, filters ...types.Filter) ([]types.Instance, error) {
	p := ec2.NewDescribeInstancesPaginator(a.ec2.DescribeInstances, &ec2.DescribeInstancesInput{Filters: filters})
	return allPages(ctx, p, false, func(out *ec2.DescribeInstancesOutput) (list []types.Instance) {
		for _, r := range out.Reservations {
			list = append(list, r.Instances...)
		}
		return list
	})
}

// paginator is what the SDK's Describe*Paginator types share.
type paginator[O any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*ec2.Options)) (*O, error)
}

// allPages collects the items of every page of p. With notFoundEnds, a
// not-found answer (an ID in the filters that does not exist) ends the
// list with what came so far; any other error is returned alone.
func allPages[O, T any](ctx context.Context, p paginator[O], notFoundEnds bool, items func(*O) []T) ([]T, error) {
	var list []T
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		switch {
		case err != nil && notFoundEnds && isNotFound(err):
			return list, nil
		case err != nil:
			return nil, err
		}
		list = append(list, items(out)...)
	}
	return list, nil
}

// defaultVPC is the account's default VPC in the region, or "".
func (a *api) defaultVPC(ctx context.Context) (string, error) {
	out, err := a.ec2.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{
		AttributeNames: []types.AccountAttributeName{types.AccountAttributeNameDefaultVpc},
	})
	if err != nil {
		return "", err
	}
	for _, attr := range out.AccountAttributes {
		if deref(attr.AttributeName) != string(types.AccountAttributeNameDefaultVpc) {
			continue
		}
		for _, v := range attr.AttributeValues {
			if id := deref(v.AttributeValue); id != "" && id != "none" {
				return id, nil
			}
		}
	}
	return "", nil
}

func (a *api) subnets(ctx context.Context, in *ec2.DescribeSubnetsInput) ([]types.Subnet, error) {
	return allPages(ctx, ec2.NewDescribeSubnetsPaginator(a.ec2.DescribeSubnets, in), true, func(out *ec2.DescribeSubnetsOutput) []types.Subnet { return out.Subnets })
}

func (a *api) image(ctx context.Context, id string) (*types.Image, error) {
	out, err := a.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	return describe.Find(err, isNotFound, func() []types.Image { return out.Images }, func(img *types.Image) bool { return deref(img.ImageId) == id })
}

// canonicalOwner is the account Canonical publishes Ubuntu images from.
const canonicalOwner = "099720109477"

// ubuntuName matches Canonical's image names, e.g.
// ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610.
var ubuntuName = regexp.MustCompile(`^ubuntu/images/hvm-ssd(?:-gp3)?/ubuntu-[a-z]+-(\d+)\.(\d+)-(amd64|arm64)-server-(\d+(?:\.\d+)?)$`)

// newestUbuntuLTS finds the newest Ubuntu LTS server image for arch
// (x86_64 or arm64) among Canonical's available images.
func (a *api) newestUbuntuLTS(ctx context.Context, arch string) (*types.Image, error) {
	p := ec2.NewDescribeImagesPaginator(a.ec2.DescribeImages, &ec2.DescribeImagesInput{
		Owners: []string{canonicalOwner},
		Filters: []types.Filter{
			filter("name", "ubuntu/images/hvm-ssd*/ubuntu-*-server-*"),
			filter("state", "available"),
			filter("architecture", arch),
			filter("root-device-type", "ebs"),
		},
	})
	all, err := allPages(ctx, p, false, func(out *ec2.DescribeImagesOutput) []types.Image { return out.Images })
	if err != nil {
		return nil, err
	}
	return pickUbuntuLTS(all), nil
}

// pickUbuntuLTS chooses the newest LTS release, and of it the newest build,
// among images named as Canonical names them; nil when there is none.
func pickUbuntuLTS(images []types.Image) *types.Image {
	type candidate struct {
		img    *types.Image
		major  int
		serial string
		stamp  string
	}
	var best *candidate
	for i := range images {
		m := ubuntuName.FindStringSubmatch(deref(images[i].Name))
		if m == nil {
			continue
		}
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		// LTS releases are the April releases of even years.
		if minor != 4 || major%2 != 0 {
			continue
		}
		c := &candidate{&images[i], major, m[4], deref(images[i].CreationDate)}
		if best == nil || c.major > best.major ||
			c.major == best.major && (compareSerial(c.serial, best.serial) > 0 ||
				compareSerial(c.serial, best.serial) == 0 && c.stamp > best.stamp) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	return best.img
}

// compareSerial orders Canonical build serials such as 20250610 or
// 20250610.1.
func compareSerial(a, b string) int {
	ad, as, _ := strings.Cut(a, ".")
	bd, bs, _ := strings.Cut(b, ".")
	if len(ad) != len(bd) {
		return len(ad) - len(bd)
	}
	if c := strings.Compare(ad, bd); c != 0 {
		return c
	}
	an, _ := strconv.Atoi(as)
	bn, _ := strconv.Atoi(bs)
	return an - bn
}

// armFamily matches instance types with a Graviton (arm64) processor:
// the family letters after the generation digit contain a "g" (t4g,
// m7gd, c6gn, im4gn, x2gd, g5g), and a1; g4dn or m6i do not.
var armFamily = regexp.MustCompile(`^(a1|[a-z]+[0-9]+[a-z]*g[a-z]*)\.`)

// architecture is the image architecture an instance type runs.
func architecture(instanceType string) string {
	if armFamily.MatchString(instanceType) {
		return "arm64"
	}
	return "x86_64"
}

func (a *api) keyPairsByTag(ctx context.Context, machineID string) ([]types.KeyPairInfo, error) {
	out, err := a.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{filter("tag:"+tagMachineID, machineID)}})
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return out.KeyPairs, nil
}

func (a *api) keyPair(ctx context.Context, name string) (*types.KeyPairInfo, error) {
	out, err := a.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{name}})
	return describe.Find(err, isNotFound, func() []types.KeyPairInfo { return out.KeyPairs }, func(kp *types.KeyPairInfo) bool { return deref(kp.KeyName) == name })
}

func (a *api) securityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput) ([]types.SecurityGroup, error) {
	return allPages(ctx, ec2.NewDescribeSecurityGroupsPaginator(a.ec2.DescribeSecurityGroups, in), true, func(out *ec2.DescribeSecurityGroupsOutput) []types.SecurityGroup {
		return out.SecurityGroups
	})
}

func hasTag(tags []types.Tag, key, value string) bool {
	return slices.ContainsFunc(tags, func(t types.Tag) bool { return deref(t.Key) == key && (value == "" || deref(t.Value) == value) })
}
