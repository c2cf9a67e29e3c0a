package cloudsim

import (
	"strconv"
	"strings"
	"time"
)

// Tags and EBS volumes of EC2.

// ec2ResourceTypes names the kind of a resource by its ID prefix, as
// DescribeTags shows it.
var ec2ResourceTypes = map[string]string{
	"i": "instance", "sg": "security-group", "vpc": "vpc", "subnet": "subnet", "key": "key-pair", "vol": "volume", "sir": "spot-instances-request",
}

var ec2NotFoundCodes = map[string]string{
	"i": "InvalidInstanceID.NotFound", "sg": "InvalidGroup.NotFound", "vpc": "InvalidVpcID.NotFound", "subnet": "InvalidSubnetID.NotFound",
	"key": "InvalidKeyPairId.NotFound", "vol": "InvalidVolume.NotFound", "sir": "InvalidSpotInstanceRequestID.NotFound",
}

// tagTargets resolves ResourceId.N: all or the first missing one's error.
func (s *Server) tagTargets(c *ec2Call) ([]*meta, error) {
	ids := c.p.list("ResourceId")
	if len(ids) == 0 {
		return nil, ec2Missing("ResourceId")
	}
	var out []*meta
	for _, id := range ids {
		prefix, _, _ := strings.Cut(id, "-")
		if strings.HasPrefix(id, "ami-") {
			return nil, ec2Errorf("UnauthorizedOperation", "You are not authorized to tag the public image %s.", id)
		}
		code, known := ec2NotFoundCodes[prefix]
		if !known {
			return nil, ec2Errorf("InvalidID", "The ID '%s' is not valid", id)
		}
		m := s.st.ec2.tagTarget(c.region.Name, id)
		if m == nil {
			return nil, ec2Errorf(code, "The ID '%s' does not exist", id)
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *Server) ec2CreateTags(c *ec2Call) ([]xnode, error) {
	tags, err := tagsParam(c.p)
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, ec2Missing("Tag")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	targets, err := s.tagTargets(c)
	if err != nil {
		return nil, err
	}
	for _, m := range targets {
		merged := *m
		if err := withTags(&merged, tags); err != nil {
			return nil, err
		}
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	for _, m := range targets {
		_ = withTags(m, tags)
	}
	return []xnode{leaf("return", true)}, nil
}

// ec2DeleteTags removes the keys given (only where the value matches, when a
// value is given), or every tag when no Tag.N is.
func (s *Server) ec2DeleteTags(c *ec2Call) ([]xnode, error) {
	want := c.p.each("Tag")
	s.mu.Lock()
	defer s.mu.Unlock()
	targets, err := s.tagTargets(c)
	if err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	for _, m := range targets {
		if len(want) == 0 {
			m.dropTags(nil, true)
			continue
		}
		var keys []string
		for _, w := range want {
			for _, t := range m.Tags {
				if t.Key == w.get("Key") && (!w.has("Value") || w.get("Value") == t.Value) {
					keys = append(keys, t.Key)
				}
			}
		}
		m.dropTags(keys, false)
	}
	return []xnode{leaf("return", true)}, nil
}

func (s *Server) ec2DescribeTags(c *ec2Call) ([]xnode, error) {
	filters, err := c.filters()
	if err != nil {
		return nil, err
	}
	for _, f := range filters {
		if !containsStr([]string{"resource-id", "resource-type", "key", "value", "tag-key", "tag-value"}, f.name) && !strings.HasPrefix(f.name, "tag:") {
			return nil, ec2Invalid("The filter '%s' is invalid", f.name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []xnode
	for _, prefix := range sortedKeys(s.st.ec2.tagged) {
		typ := ec2ResourceTypes[prefix]
		s.st.ec2.tagged[prefix].each(func(m *meta) {
			if m.RegionID != c.region.Name {
				return
			}
			for _, t := range m.Tags {
				have := map[string][]string{"resource-id": one(m.ID), "resource-type": one(typ), "key": one(t.Key), "value": one(t.Value),
					"tag-key": one(t.Key), "tag-value": one(t.Value), "tag:" + t.Key: one(t.Value)}
				if filterStatic(filters, have) {
					items = append(items, item(leaf("resourceId", m.ID), leaf("resourceType", typ), leaf("key", t.Key), leaf("value", t.Value)))
				}
			}
		})
	}
	return pagedSet(c, "tagSet", items, 5, 1000)
}

func (s *Server) ec2VolumeView(v *ec2Volume) xnode {
	status := v.status()
	var att []xnode
	if v.InstanceID != "" {
		att = []xnode{item(leaf("volumeId", v.ID), leaf("instanceId", v.InstanceID), leaf("device", v.Device), leaf("status", "attached"),
			leaf("attachTime", v.AttachTime), leaf("deleteOnTermination", v.DeleteOnTermination))}
	}
	kids := []xnode{leaf("volumeId", v.ID), leaf("size", v.Size), leaf("snapshotId", v.SnapshotID), leaf("availabilityZone", v.Zone),
		leaf("status", status), leaf("createTime", v.Created), set("attachmentSet", att), leaf("volumeType", v.Type)}
	if v.Iops > 0 {
		kids = append(kids, leaf("iops", v.Iops))
	}
	if v.Throughput > 0 {
		kids = append(kids, leaf("throughput", v.Throughput))
	}
	kids = append(kids, leaf("encrypted", v.Encrypted))
	kids = append(kids, optional("kmsKeyId", v.KmsKeyID)...)
	kids = append(kids, tagSet(v.Tags), leaf("multiAttachEnabled", false))
	return item(kids...)
}

func (s *Server) ec2DescribeVolumes(c *ec2Call) ([]xnode, error) {
	return describe(s, c, describeSpec[*ec2Volume]{
		table: func(e *ec2State) *table[*ec2Volume] { return e.volumes }, idParam: "VolumeId", idPrefix: "vol", malformed: "InvalidVolumeID.Malformed",
		set: "volumeSet", view: s.ec2VolumeView, paged: true, maxResults: 500,
		fields: fields[*ec2Volume]{
			"volume-id": func(v *ec2Volume) []string { return one(v.ID) }, "volume-type": func(v *ec2Volume) []string { return one(v.Type) },
			"size": func(v *ec2Volume) []string { return one(strconv.Itoa(v.Size)) }, "availability-zone": func(v *ec2Volume) []string { return one(v.Zone) },
			"attachment.instance-id": func(v *ec2Volume) []string { return one(v.InstanceID) }, "attachment.device": func(v *ec2Volume) []string { return one(v.Device) },
			"attachment.delete-on-termination": func(v *ec2Volume) []string { return one(strconv.FormatBool(v.DeleteOnTermination)) },
			"encrypted":                        func(v *ec2Volume) []string { return one(strconv.FormatBool(v.Encrypted)) },
			"status":                           func(v *ec2Volume) []string { return one(v.status()) },
			"snapshot-id":                      func(v *ec2Volume) []string { return one(v.SnapshotID) },
		},
	})
}

// status is the volume's state: in-use while attached.
func (v *ec2Volume) status() string {
	if v.InstanceID != "" {
		return "in-use"
	}
	return "available"
}

func (s *Server) ec2DeleteVolume(c *ec2Call) ([]xnode, error) {
	return remove(s, c, "VolumeId", func(e *ec2State) *table[*ec2Volume] { return e.volumes }, nil)
}

func (s *Server) ec2GetEbsEncryptionByDefault(c *ec2Call) ([]xnode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []xnode{leaf("ebsEncryptionByDefault", s.st.ec2.ebsEncryption[c.region.Name]), leaf("sseType", "sse-ebs")}, nil
}

func (s *Server) ec2SetEbsEncryptionByDefault(on bool) ec2Handler {
	return func(c *ec2Call) ([]xnode, error) {
		if err := c.dryRun(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.st.ec2.ebsEncryption[c.region.Name] = on
		return []xnode{leaf("ebsEncryptionByDefault", on)}, nil
	}
}

func (s *Server) ec2GetEbsDefaultKmsKeyID(c *ec2Call) ([]xnode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []xnode{leaf("kmsKeyId", s.defaultKmsKey(c.region.Name))}, nil
}

// Spot requests.

type ec2SpotRequest struct {
	meta
	Type, State, StatusCode, SpotPrice string
	InstanceID, Behavior               string
	launch                             params // the launch specification, as given
	ValidUntil                         time.Time
	statusTime                         time.Time
}

var spotStatusText = map[string]string{
	"pending-evaluation":                    "Your Spot request has been submitted for review, and is pending evaluation.",
	"fulfilled":                             "Your Spot request is fulfilled.",
	"request-canceled-and-instance-running": "Spot Instance request is canceled, but the instance is still running.",
	"canceled-before-fulfillment":           "Your Spot request was canceled before it was fulfilled.",
	"instance-terminated-by-user":           "Spot Instance terminated due to user-initiated termination.",
	"schedule-expired":                      "Your Spot request has expired.",
}
