package cloudsim

import (
	"fmt"
	"net/http"
)

// APIError is an error answer of the simulated services. It is written as
// {RequestId, HostId, Code, Message, Recommend} with Status as the HTTP status,
// which the official SDK turns into an *errors.ServerError.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// errorTable lists the status and message of the codes the simulator answers
// with, taken from the public API documentation (ECS, VPC, SLB error centres and
// the OpenAPI gateway's common errors). Injected faults use it too, so a fault
// naming only a code gets the real status and message.
//
//	Code                                  HTTP  Raised by
//	MissingParameter                      400   any action, a required parameter is absent
//	InvalidParameter                      400   any action, a value is malformed or out of range
//	InvalidVersion                        400   gateway, Version names no product here
//	InvalidAction.NotFound                404   gateway, the product has no such action
//	InvalidAccessKeyId.NotFound           404   gateway, unknown AccessKeyId
//	SignatureDoesNotMatch                 400   gateway, HMAC-SHA1 over the canonical query differs
//	IncompleteSignature                   400   gateway, SignatureMethod/SignatureVersion unsupported
//	InvalidTimeStamp.Format               400   gateway, Timestamp is not yyyy-MM-ddTHH:mm:ssZ
//	InvalidTimeStamp.Expired              400   gateway, Timestamp more than 15 minutes off
//	SignatureNonceUsed                    400   gateway, SignatureNonce seen in the last 15 minutes
//	Throttling.User                       400   gateway, the configured request rate is exceeded
//	ServiceUnavailable                    503   injected
//	InternalError                         500   injected
//	IdempotentParameterMismatch           400   ClientToken reused with other parameters
//	DryRunOperation                       400   DryRun=true and the request is valid
//	InvalidRegionId.NotFound              404   unknown RegionId
//	IncorrectInstanceStatus               403   instance is in the wrong state for the action
//	IncorrectInstanceStatus.Initializing  403   instance still Pending
//	InvalidInstanceId.NotFound            404   unknown InstanceId
//	DependencyViolation                   403   security group still used by instances
//	DependencyViolation.RouteEntry        400   instance is a route next hop / VPC has custom routes
//	DependencyViolation.VSwitch           400   VPC still has VSwitches
//	DependencyViolation.Instance          400   VSwitch still has instances
//	DependencyViolation.SecurityGroup     400   VPC still has security groups
//	InvalidOperation.DeletionProtection   403   instance has deletion protection
//	InvalidSecurityGroupId.NotFound       404   unknown SecurityGroupId
//	InvalidSecurityGroup.NotFound         404   DeleteSecurityGroup of an unknown group
//	InvalidSecurityGroupId.VPCMismatch    400   security group and VSwitch in different VPCs
//	InvalidKeyPairName.NotFound           404   unknown KeyPairName
//	KeyPair.AlreadyExist                  400   key pair name taken
//	InvalidImageId.NotFound               404   unknown ImageId
//	InvalidUserData.Base64FormatInvalid   403   UserData is not base64
//	InvalidSystemDiskSize.*               404   SystemDisk.Size out of range (ECS documents 404)
//	InvalidVSwitchId.NotFound             403   unknown VSwitchId (ECS documents 403)
//	InvalidVpcId.NotFound                 404   unknown VpcId
//	InvalidAllocationId.NotFound          404   unknown EIP AllocationId
//	IncorrectEipStatus                    400   EIP in the wrong state
//	InvalidAssociation.Duplicated         400   instance already has an EIP
//	AllocatedAlready                      403   instance already has a public IP
//	InvalidRouteTableId.NotFound          404   unknown RouteTableId
//	InvalidRouteEntry.NotFound            404   no such route entry
//	InvalidCIDRBlock.Duplicate            400   a route for the destination exists
//	IncorrectRouteEntryStatus             400   another route entry of the table is still Pending
//	InvalidLoadBalancerId.NotFound        404   unknown LoadBalancerId
//	InvalidServerId.NotFound              404   backend server is no instance of the region
//	ListenerAlreadyExists                 400   a listener uses the port
//	ListenerNotFound                      404   no listener on the port
//	InvalidResourceId.NotFound            404   tagging an unknown resource
var errorTable = map[string]APIError{
	"MissingParameter":                        {http.StatusBadRequest, "", "The input parameter that is mandatory for processing this request is not supplied."},
	"InvalidParameter":                        {http.StatusBadRequest, "", "The specified parameter is not valid."},
	"InvalidVersion":                          {http.StatusBadRequest, "", "Specified parameter Version is not valid."},
	"InvalidAction.NotFound":                  {http.StatusNotFound, "", "Specified api is not found, please check your url and method."},
	"InvalidAccessKeyId.NotFound":             {http.StatusNotFound, "", "Specified access key is not found."},
	"SignatureDoesNotMatch":                   {http.StatusBadRequest, "", "Specified signature is not matched with our calculation."},
	"IncompleteSignature":                     {http.StatusBadRequest, "", "The request signature does not conform to Aliyun standards."},
	"InvalidTimeStamp.Format":                 {http.StatusBadRequest, "", "Specified time stamp or date value is not well formatted."},
	"InvalidTimeStamp.Expired":                {http.StatusBadRequest, "", "Specified time stamp or date value is expired."},
	"SignatureNonceUsed":                      {http.StatusBadRequest, "", "Specified signature nonce was used already."},
	"Throttling.User":                         {http.StatusBadRequest, "", "Request was denied due to user flow control."},
	"Throttling":                              {http.StatusBadRequest, "", "Request was denied due to request throttling."},
	"ServiceUnavailable":                      {http.StatusServiceUnavailable, "", "The request has failed due to a temporary failure of the server."},
	"InternalError":                           {http.StatusInternalServerError, "", "The request processing has failed due to some unknown error, exception or failure."},
	"IdempotentParameterMismatch":             {http.StatusBadRequest, "", "Request uses a client token in a previous request but is not identical to that request."},
	"DryRunOperation":                         {http.StatusBadRequest, "", "Request validation has been passed with DryRun flag set."},
	"InvalidRegionId.NotFound":                {http.StatusNotFound, "", "The specified RegionId does not exist."},
	"IncorrectInstanceStatus":                 {http.StatusForbidden, "", "The current status of the resource does not support this operation."},
	"IncorrectInstanceStatus.Initializing":    {http.StatusForbidden, "", "The specified instance status does not support this operation."},
	"InvalidInstanceId.NotFound":              {http.StatusNotFound, "", "The specified InstanceId does not exist."},
	"DependencyViolation":                     {http.StatusForbidden, "", "There is still instance(s) in the specified security group."},
	"DependencyViolation.RouteEntry":          {http.StatusBadRequest, "", "Specified instance is used by route entry."},
	"DependencyViolation.VSwitch":             {http.StatusBadRequest, "", "Specified object has dependent resources"},
	"DependencyViolation.Instance":            {http.StatusBadRequest, "", "Specified object has dependent resources"},
	"DependencyViolation.SecurityGroup":       {http.StatusBadRequest, "", "Specified object has dependent resources"},
	"InvalidOperation.DeletionProtection":     {http.StatusForbidden, "", "The instance is protected from deletion."},
	"InvalidSecurityGroupId.NotFound":         {http.StatusNotFound, "", "The specified SecurityGroupId does not exist."},
	"InvalidSecurityGroup.NotFound":           {http.StatusNotFound, "", "The specified security group is not found."},
	"InvalidSecurityGroupId.VPCMismatch":      {http.StatusBadRequest, "", "The specified security group and the specified virtual switch are not in the same VPC."},
	"InvalidKeyPairName.NotFound":             {http.StatusNotFound, "", "The specified KeyPairName does not exist in our records."},
	"KeyPair.AlreadyExist":                    {http.StatusBadRequest, "", "The key pair already exist."},
	"InvalidUserData.Base64FormatInvalid":     {http.StatusForbidden, "", "The specified UserData is not valid."},
	"InvalidSystemDiskSize":                   {http.StatusNotFound, "", "The specified parameter SystemDisk.Size is invalid."},
	"InvalidSystemDiskSize.LessThanImageSize": {http.StatusNotFound, "", "The specified parameter SystemDisk.Size is less than the image size."},
	"InvalidSystemDiskSize.MoreThanMaxSize":   {http.StatusNotFound, "", "The specified SystemDisk.Size parameter exceeds the maximum size."},
	"InvalidImageId.NotFound":                 {http.StatusNotFound, "", "The specified ImageId does not exist."},
	"InvalidVSwitchId.NotFound":               {http.StatusForbidden, "", "The VSwitchId provided does not exist in our records."},
	"InvalidVpcId.NotFound":                   {http.StatusNotFound, "", "Specified VPC does not exist."},
	"InvalidAllocationId.NotFound":            {http.StatusNotFound, "", "Specified allocation ID of EIP does not exist."},
	"IncorrectEipStatus":                      {http.StatusBadRequest, "", "The current status of the EIP does not support this operation."},
	"InvalidAssociation.Duplicated":           {http.StatusBadRequest, "", "The instance already has an EIP associated."},
	"AllocatedAlready":                        {http.StatusForbidden, "", "Public IP address has been allocated to the specified instance."},
	"InvalidRouteTableId.NotFound":            {http.StatusNotFound, "", "The specified route table does not exist."},
	"InvalidRouteEntry.NotFound":              {http.StatusNotFound, "", "The specified route entry does not exist."},
	"InvalidCIDRBlock.Duplicate":              {http.StatusBadRequest, "", "Specified CIDR block is already exists."},
	"IncorrectRouteEntryStatus":               {http.StatusBadRequest, "", "The current status of the route entry does not support this operation."},
	"InvalidLoadBalancerId.NotFound":          {http.StatusNotFound, "", "The specified load balancer does not exist."},
	"InvalidServerId.NotFound":                {http.StatusNotFound, "", "The specified ServerId does not exist."},
	"ListenerAlreadyExists":                   {http.StatusBadRequest, "", "A listener with the specified port already exists"},
	"ListenerNotFound":                        {http.StatusNotFound, "", "You have not created a listener for the specified port of the load balancer."},
	"InvalidResourceId.NotFound":              {http.StatusNotFound, "", "The specified ResourceIds are not found in our records."},
}

// newError returns the APIError for code, with msg replacing the table's
// message when given. Codes missing from the table answer 400.
func newError(code, msg string) *APIError { return tableError(errorTable, code, msg) }

// tableError looks code up in a product's error table.
func tableError(table map[string]APIError, code, msg string) *APIError {
	e, ok := table[code]
	if !ok {
		e = APIError{Status: http.StatusBadRequest}
	}
	e.Code = code
	if msg != "" {
		e.Message = msg
	}
	if e.Message == "" {
		e.Message = "The request could not be processed: " + code + "."
	}
	return &e
}

// newErrorf is newError with a formatted message.
func newErrorf(code, format string, args ...any) *APIError {
	return newError(code, fmt.Sprintf(format, args...))
}

// withStatus overrides the HTTP status of an error (some products document
// another status for the same code).
func withStatus(e *APIError, status int) *APIError {
	e.Status = status
	return e
}

func errMissing(name string) *APIError {
	return newErrorf("MissingParameter", "The input parameter \"%s\" that is mandatory for processing this request is not supplied.", name)
}

func errInvalid(name string) *APIError {
	return newErrorf("InvalidParameter", "The specified parameter \"%s\" is not valid.", name)
}

func errInvalidf(name, format string, args ...any) *APIError {
	return newErrorf("InvalidParameter", "The specified parameter \"%s\" is not valid: %s", name, fmt.Sprintf(format, args...))
}
