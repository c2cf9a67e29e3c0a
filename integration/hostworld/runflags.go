package hostworld

import "slices"

// ContainerRunFlags returns the docker run options of a hostworld host
// named name: its name and hostname, the labels that mark it as a
// hostworld host (so FindHost, StartAgain and RemoveAllLabelled manage it)
// and the options that make a container behave like a VM here. It is for
// callers that need docker options Start does not offer, such as bind
// mounts; append those, the image and "/sbin/init", run "docker create",
// then FindHost and StartAgain boot it.
func ContainerRunFlags(name, sudoUser string) []string {
	args := []string{"--hostname", name, "--name", name, "--label", labelKey + "=1", "--label", sudoUserLabel + "=" + sudoUser}
	return append(args, slices.Clone(vmFlags)...)
}
