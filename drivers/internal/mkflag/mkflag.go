// Package mkflag builds the rows of a driver's create-flag table, one line
// a flag: name, environment variable, default (where the kind has one) and
// usage.
package mkflag

import "github.com/docker/machine/libmachine/mcnflag"

// String is a string flag.
func String(name, env, value, usage string) mcnflag.Flag {
	return mcnflag.StringFlag{Name: name, EnvVar: env, Value: value, Usage: usage}
}

// Int is an int flag.
func Int(name, env string, value int, usage string) mcnflag.Flag {
	return mcnflag.IntFlag{Name: name, EnvVar: env, Value: value, Usage: usage}
}

// Bool is a bool flag; it is false unless given.
func Bool(name, env, usage string) mcnflag.Flag {
	return mcnflag.BoolFlag{Name: name, EnvVar: env, Usage: usage}
}

// List is a repeatable string flag.
func List(name, env string, value []string, usage string) mcnflag.Flag {
	return mcnflag.StringSliceFlag{Name: name, EnvVar: env, Value: value, Usage: usage}
}
