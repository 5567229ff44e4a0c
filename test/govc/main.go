// Command govc is govc with only the commands the tests run against the operator: the session
// and library.session commands. govc's own main module is not published as a Go module; its
// command packages are, inside github.com/vmware/govmomi, and this main registers them as
// govc's does.
package main

import (
	"os"

	"github.com/vmware/govmomi/cli"
	_ "github.com/vmware/govmomi/cli/library/session"
	_ "github.com/vmware/govmomi/cli/session"
)

func main() {
	os.Exit(cli.Run(os.Args[1:]))
}
