package main

import (
	"flag"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestShippedArgsParse checks that the arguments config/default and the Helm chart (default
// values, and every value that becomes a flag changed) give the manager are the manager's own
// flags, with values it accepts; and that without values set they give it the session policy
// it has without flags.
func TestShippedArgsParse(t *testing.T) {
	helm := testenv.Tool(t, "HELM", "helm")
	chart := filepath.Join(testenv.ModuleRoot(t), "charts/update-session-operator")
	sources := map[string][]*unstructured.Unstructured{
		"config/default": testenv.Kustomize(t, "config/default"),
		"chart":          testenv.DecodeObjects(t, testenv.Run(t, helm, "template", "uso", chart)),
		"chart with values": testenv.DecodeObjects(t, testenv.Run(t, helm, "template", "uso", chart,
			"--set", "leaderElection.enabled=false,metrics.enabled=false,metrics.secure=false,rest.tls.mode=disabled",
			"--set", "sessionTimeout=90s,terminalRetention=1h,keepaliveCoalesceWindow=0s,rest.port=9443,rest.shutdownDelay=2s",
			"--set", "extraArgs={--max-concurrent-reconciles=8}")),
	}
	defaults, _ := bindFlags(flag.NewFlagSet("manager", flag.ContinueOnError))
	for source, objs := range sources {
		t.Run(source, func(t *testing.T) {
			for _, f := range managerFlags(t, objs) {
				if err := f.validate(); err != nil {
					t.Error(err)
				}
				// A default changed in the manager but not in the chart (or the other way round)
				// would make the two installs behave differently.
				if source != "chart with values" && f.policy != defaults.policy {
					t.Errorf("session policy %+v, want the manager's defaults %+v", f.policy, defaults.policy)
				}
			}
		})
	}
}

// managerFlags parses the arguments of each container of the one Deployment in objs as the
// manager's flags.
func managerFlags(t *testing.T, objs []*unstructured.Unstructured) []*flags {
	t.Helper()
	var parsed []*flags
	var deployments int
	for _, obj := range objs {
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
			parsed = append(parsed, f)
		}
	}
	if deployments != 1 {
		t.Fatalf("%d Deployments, want 1", deployments)
	}
	return parsed
}
