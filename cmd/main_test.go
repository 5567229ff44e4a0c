package main

import (
	"flag"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestShippedArgsParse checks that the arguments config/default gives the manager are the
// manager's own flags, with values it accepts.
func TestShippedArgsParse(t *testing.T) {
	var deployments int
	for _, obj := range testenv.Kustomize(t, "config/default") {
		if obj.GetKind() != "Deployment" {
			continue
		}
		deployments++
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			f, _ := bindFlags(fs)
			if err := fs.Parse(c.Args); err != nil {
				t.Errorf("container %s: args %q: %v", c.Name, c.Args, err)
				continue
			}
			if fs.NArg() > 0 {
				t.Errorf("container %s: stray arguments %q", c.Name, fs.Args())
			}
			if err := f.validate(); err != nil {
				t.Errorf("container %s: %v", c.Name, err)
			}
		}
	}
	if deployments != 1 {
		t.Fatalf("config/default has %d Deployments, want 1", deployments)
	}
}
