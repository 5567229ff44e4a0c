// Command golangci-lint is golangci-lint with the logcheck plugin (structured, contextual
// logging) compiled in: what `golangci-lint custom` builds from .custom-gcl.yml, built here
// from the Go module proxy because `custom` clones golangci-lint's repository from GitHub.
package main

import (
	"fmt"
	"os"

	"github.com/golangci/golangci-lint/v2/pkg/commands"
	"github.com/golangci/golangci-lint/v2/pkg/exitcodes"
	_ "sigs.k8s.io/logtools/logcheck/gclplugin" // registers the logcheck module plugin
)

func main() {
	info := commands.BuildInfo{Version: "2.15.0+logcheck", GoVersion: "go", Commit: "module proxy", Date: "n/a"}
	if err := commands.Execute(info); err != nil {
		fmt.Fprintf(os.Stderr, "golangci-lint: %v\n", err)
		os.Exit(exitcodes.Failure)
	}
}
