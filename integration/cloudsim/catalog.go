package cloudsim

// The fixed catalog of the simulated cloud: regions and zones, system images
// and instance types. Every region gets a default VPC with one default VSwitch
// per zone when the state is created.

type regionInfo struct {
	ID        string
	LocalName string
	// idPrefix is the two characters real resource IDs of the region start
	// with (i-bp..., sg-bp... in cn-hangzhou).
	idPrefix string
	Zones    []zoneInfo
}

type zoneInfo struct {
	ID        string
	LocalName string
}

var regions = []regionInfo{
	{ID: "cn-hangzhou", LocalName: "华东1（杭州）", idPrefix: "bp", Zones: []zoneInfo{
		{"cn-hangzhou-h", "杭州 可用区H"}, {"cn-hangzhou-i", "杭州 可用区I"}, {"cn-hangzhou-k", "杭州 可用区K"}}},
	{ID: "cn-beijing", LocalName: "华北2（北京）", idPrefix: "2z", Zones: []zoneInfo{
		{"cn-beijing-a", "北京 可用区A"}, {"cn-beijing-b", "北京 可用区B"}}},
	{ID: "cn-shanghai", LocalName: "华东2（上海）", idPrefix: "uf", Zones: []zoneInfo{
		{"cn-shanghai-e", "上海 可用区E"}, {"cn-shanghai-f", "上海 可用区F"}}},
	{ID: "cn-chengdu", LocalName: "西南1（成都）", idPrefix: "2v", Zones: []zoneInfo{
		{"cn-chengdu-a", "成都 可用区A"}, {"cn-chengdu-b", "成都 可用区B"}}},
	{ID: "ap-southeast-1", LocalName: "新加坡", idPrefix: "t4", Zones: []zoneInfo{
		{"ap-southeast-1a", "新加坡 可用区A"}, {"ap-southeast-1b", "新加坡 可用区B"}}},
}

func findRegion(id string) *regionInfo {
	for i := range regions {
		if regions[i].ID == id {
			return &regions[i]
		}
	}
	return nil
}

func (r *regionInfo) zone(id string) *zoneInfo {
	for i := range r.Zones {
		if r.Zones[i].ID == id {
			return &r.Zones[i]
		}
	}
	return nil
}

// imageInfo is a public system image. Every image boots the same host image
// in the container backend; the catalog entries are what API clients see.
type imageInfo struct {
	ID           string
	Name         string
	OSName       string
	OSNameEn     string
	Platform     string
	Description  string
	Size         int // GiB, the least system disk
	CreationTime string
	ImageFamily  string
	ImageVersion string
}

var images = []imageInfo{
	{
		ID: "ubuntu_22_04_x64_20G_alibase_20240130.vhd", Name: "ubuntu_22_04_x64_20G_alibase_20240130.vhd",
		OSName: "Ubuntu  22.04 64位", OSNameEn: "Ubuntu  22.04 64 bit", Platform: "Ubuntu",
		Description: "Ubuntu 22.04 LTS, simulated: boots the cloudsim host image", Size: 20,
		CreationTime: "2024-01-30T07:29:41Z", ImageFamily: "acs:ubuntu_22_04_x64", ImageVersion: "20240130",
	},
	{
		ID: "debian_12_4_x64_20G_alibase_20240126.vhd", Name: "debian_12_4_x64_20G_alibase_20240126.vhd",
		OSName: "Debian  12.4 64位", OSNameEn: "Debian  12.4 64 bit", Platform: "Debian",
		Description: "Debian 12 (bookworm), simulated: boots the cloudsim host image", Size: 20,
		CreationTime: "2024-01-26T03:11:09Z", ImageFamily: "acs:debian_12_x64", ImageVersion: "20240126",
	},
}

func findImage(id string) *imageInfo {
	for i := range images {
		if images[i].ID == id {
			return &images[i]
		}
	}
	return nil
}

type instanceTypeInfo struct {
	ID         string
	Family     string
	CPU        int
	MemoryGiB  float64
	Generation string
}

var instanceTypes = []instanceTypeInfo{
	{ID: "ecs.n4.small", Family: "ecs.n4", CPU: 1, MemoryGiB: 2, Generation: "ecs-3"},
	{ID: "ecs.t6-c1m1.large", Family: "ecs.t6", CPU: 2, MemoryGiB: 2, Generation: "ecs-4"},
	{ID: "ecs.c6.large", Family: "ecs.c6", CPU: 2, MemoryGiB: 4, Generation: "ecs-4"},
	{ID: "ecs.g6.large", Family: "ecs.g6", CPU: 2, MemoryGiB: 8, Generation: "ecs-4"},
	{ID: "ecs.g7.xlarge", Family: "ecs.g7", CPU: 4, MemoryGiB: 16, Generation: "ecs-5"},
}

func findInstanceType(id string) *instanceTypeInfo {
	for i := range instanceTypes {
		if instanceTypes[i].ID == id {
			return &instanceTypes[i]
		}
	}
	return nil
}

// diskCategories are the disk categories instances may use.
var diskCategories = []string{"cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto"}
