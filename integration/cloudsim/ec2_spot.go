package cloudsim

import (
	"context"
	"strconv"
	"time"
)

// Spot instances: market options on RunInstances make a one-time request that
// is fulfilled at once; RequestSpotInstances makes open requests that are
// fulfilled after create_time by launching their specification.

// newSpotRequest records the request behind a RunInstances spot launch. The
// caller holds s.mu.
func (s *Server) newSpotRequest(region string, req *runRequest, inst *ec2Instance, now time.Time) *ec2SpotRequest {
	sr := &ec2SpotRequest{meta: newMeta("sir-"+randomID(8), region, now), Type: req.spot.kind, State: "active",
		StatusCode: "fulfilled", SpotPrice: cmpOr(req.spot.maxPrice, "0.096000"), InstanceID: inst.ID, Behavior: req.spot.behavior,
		launch: params{"ImageId": inst.ImageID, "InstanceType": inst.Type, "KeyName": inst.KeyName, "SubnetId": inst.SubnetID}, statusTime: now}
	_ = withTags(&sr.meta, req.tags["spot-instances-request"])
	s.st.ec2.spot.put(sr)
	return sr
}

func (s *Server) ec2RequestSpotInstances(c *ec2Call) ([]xnode, error) {
	count, err := c.p.ec2Int("InstanceCount", 1)
	if err != nil {
		return nil, err
	}
	if count < 1 || count > 20 {
		return nil, ec2Errorf("MaxSpotInstanceCountExceeded", "Max spot instance count exceeded: %d (1 to 20 per request).", count)
	}
	kind := cmpOr(c.p.get("Type"), "one-time")
	if kind != "one-time" && kind != "persistent" {
		return nil, ec2Invalid("Value (%s) for parameter type is invalid. Valid values: one-time, persistent.", kind)
	}
	price := c.p.get("SpotPrice")
	if price != "" {
		if f, err := strconv.ParseFloat(price, 64); err != nil || f <= 0 {
			return nil, ec2Invalid("Invalid spot price: %s", price)
		}
	}
	var until time.Time
	if v := c.p.get("ValidUntil"); v != "" {
		if until, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, ec2Invalid("Value (%s) for parameter validUntil is invalid.", v)
		}
	}
	launch := c.p.sub("LaunchSpecification.")
	// The specification is checked now, as RunInstances would check it.
	spec := c.specCall(launch)
	if _, err := parseRun(spec); err != nil {
		return nil, err
	}
	tags, err := tagSpecs(c.p, "spot-instances-request")
	if err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	var items []xnode
	for range count {
		sr := &ec2SpotRequest{meta: newMeta("sir-"+randomID(8), c.region.Name, now), Type: kind, State: "open",
			StatusCode: "pending-evaluation", SpotPrice: cmpOr(price, "0.096000"), Behavior: "terminate", launch: launch,
			ValidUntil: until, statusTime: now}
		_ = withTags(&sr.meta, tags["spot-instances-request"])
		s.st.ec2.spot.put(sr)
		items = append(items, s.spotView(sr))
		id, region := sr.ID, c.region
		s.goBackground(func(ctx context.Context) { s.fulfilSpot(ctx, region, id) })
	}
	return []xnode{set("spotInstanceRequestSet", items)}, nil
}

// specCall is a call whose parameters are a launch specification, as one
// RunInstances of one instance.
func (c *ec2Call) specCall(launch params) *ec2Call {
	p := params{"MinCount": "1", "MaxCount": "1"}
	for k, v := range launch {
		p[k] = v
	}
	return &ec2Call{s: c.s, r: c.r, action: "RunInstances", p: p, region: c.region, requestID: c.requestID, accessKey: c.accessKey}
}

// fulfilSpot launches an open request's instance after create_time.
func (s *Server) fulfilSpot(ctx context.Context, region *ec2Region, id string) {
	if sleepCtx(ctx, s.faults.get().CreateTime.D()) != nil {
		return
	}
	s.mu.Lock()
	sr := s.st.ec2.spot.at(id)
	if sr == nil || sr.State != "open" {
		s.mu.Unlock()
		return
	}
	now := time.Now().UTC()
	if !sr.ValidUntil.IsZero() && now.After(sr.ValidUntil) {
		sr.State, sr.StatusCode, sr.statusTime = "closed", "schedule-expired", now
		s.mu.Unlock()
		return
	}
	c := (&ec2Call{s: s, region: region}).specCall(sr.launch)
	req, err := parseRun(c)
	var insts []*ec2Instance
	var specs []InstanceSpec
	if err == nil {
		req.spotRequestID = sr.ID
		insts, specs, err = s.placeInstances(c, req, "")
	}
	if err != nil {
		sr.StatusCode, sr.statusTime = "bad-parameters", now
		s.mu.Unlock()
		s.log.Warn("cloudsim: a spot request cannot be fulfilled", "request", id, "err", err)
		return
	}
	sr.State, sr.StatusCode, sr.InstanceID, sr.statusTime = "active", "fulfilled", insts[0].ID, now
	s.mu.Unlock()
	s.bootNew(ctx, insts, specs)
}

func (s *Server) spotView(sr *ec2SpotRequest) xnode {
	spec := []xnode{leaf("imageId", sr.launch.get("ImageId")), leaf("instanceType", cmpOr(sr.launch.get("InstanceType"), "m1.small"))}
	spec = append(spec, optional("keyName", sr.launch.get("KeyName"))...)
	spec = append(spec, optional("subnetId", sr.launch.get("SubnetId"))...)
	kids := []xnode{leaf("spotInstanceRequestId", sr.ID), leaf("spotPrice", sr.SpotPrice), leaf("type", sr.Type), leaf("state", sr.State),
		elem("status", leaf("code", sr.StatusCode), leaf("updateTime", sr.statusTime), leaf("message", spotStatusText[sr.StatusCode])),
		elem("launchSpecification", spec...)}
	kids = append(kids, optional("instanceId", sr.InstanceID)...)
	kids = append(kids, leaf("createTime", sr.Created), leaf("productDescription", "Linux/UNIX"), tagSet(sr.Tags),
		leaf("instanceInterruptionBehavior", sr.Behavior))
	if !sr.ValidUntil.IsZero() {
		kids = append(kids, leaf("validUntil", sr.ValidUntil))
	}
	return item(kids...)
}

func (s *Server) ec2DescribeSpotInstanceRequests(c *ec2Call) ([]xnode, error) {
	return describe(s, c, describeSpec[*ec2SpotRequest]{
		table: func(e *ec2State) *table[*ec2SpotRequest] { return e.spot }, idParam: "SpotInstanceRequestId", idPrefix: "sir",
		malformed: "InvalidSpotInstanceRequestID.Malformed", set: "spotInstanceRequestSet", view: s.spotView, paged: true, maxResults: 1000,
		fields: fields[*ec2SpotRequest]{
			"spot-instance-request-id": func(r *ec2SpotRequest) []string { return one(r.ID) }, "state": func(r *ec2SpotRequest) []string { return one(r.State) },
			"status-code": func(r *ec2SpotRequest) []string { return one(r.StatusCode) }, "instance-id": func(r *ec2SpotRequest) []string { return one(r.InstanceID) },
			"type": func(r *ec2SpotRequest) []string { return one(r.Type) },
		},
	})
}

// ec2CancelSpotInstanceRequests cancels requests; their instances keep
// running, as on EC2.
func (s *Server) ec2CancelSpotInstanceRequests(c *ec2Call) ([]xnode, error) {
	ids := c.p.list("SpotInstanceRequestId")
	if len(ids) == 0 {
		return nil, ec2Missing("SpotInstanceRequestId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := missingIDs(s.st.ec2.spot, c.region.Name, ids); err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	var items []xnode
	for _, id := range ids {
		sr := s.st.ec2.spot.at(id)
		if sr.State == "open" || sr.State == "active" {
			sr.StatusCode = "canceled-before-fulfillment"
			if inst := s.st.ec2.instances.at(sr.InstanceID); inst != nil && inst.live() {
				sr.StatusCode = "request-canceled-and-instance-running"
			}
			sr.State, sr.statusTime = "cancelled", now
		}
		items = append(items, item(leaf("spotInstanceRequestId", sr.ID), leaf("state", sr.State)))
	}
	return []xnode{set("spotInstanceRequestSet", items)}, nil
}
