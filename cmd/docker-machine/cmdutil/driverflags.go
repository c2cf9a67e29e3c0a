package cmdutil

import (
	"fmt"
	"reflect"

	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/libmachine"
)

// AddDriverFlags registers a driver's mcnflags on fs, with defaults taken
// from their environment variables, and returns how to read them back.
// A name fs defines already keeps its first meaning.
func AddDriverFlags(fs *pflag.FlagSet, flags []mcnflag.Flag) (func() libmachine.DriverOptions, error) {
	getters := map[string]func() any{}
	for _, f := range flags {
		name := f.String()
		if fs.Lookup(name) != nil {
			continue
		}
		def, err := libmachine.FlagDefault(f)
		if err != nil {
			return nil, err
		}
		usage := flagUsage(f)
		switch v := def.(type) {
		case string:
			p := fs.String(name, v, usage)
			getters[name] = func() any { return *p }
		case int:
			p := fs.Int(name, v, usage)
			getters[name] = func() any { return *p }
		case bool:
			p := fs.Bool(name, v, usage)
			getters[name] = func() any { return *p }
		case []string:
			p := fs.StringArray(name, v, usage)
			getters[name] = func() any { return *p }
		}
	}
	return func() libmachine.DriverOptions {
		v := libmachine.DriverOptions{}
		for k, g := range getters {
			v[k] = g()
		}
		return v
	}, nil
}

// flagUsage is a driver flag's help text with its environment variable.
// Every mcnflag type, by value or pointer, has the string fields Usage and
// EnvVar.
func flagUsage(f mcnflag.Flag) string {
	v := reflect.Indirect(reflect.ValueOf(f))
	if v.Kind() != reflect.Struct {
		return ""
	}
	field := func(name string) string {
		if fv := v.FieldByName(name); fv.Kind() == reflect.String {
			return fv.String()
		}
		return ""
	}
	usage, envVar := field("Usage"), field("EnvVar")
	if envVar == "" {
		return usage
	}
	return fmt.Sprintf("%s [$%s]", usage, envVar)
}

// OwnFlagsCmd is a command that parses its own arguments, because which
// flags exist depends on them (a driver's flags) or because they belong to
// something else (a remote command line). run gets every argument as given.
func OwnFlagsCmd(use, short, long string, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Long: long, DisableFlagParsing: true, RunE: run}
}
