package main

import (
	"flag"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestShippedArgsParse checks that the arguments config/default and the Helm chart (default
// values, and every value that becomes a flag changed) give the manager are the manager's own
// flags, with values it accepts; that without values set they give it the session policy it
// has without flags; and that they log in production form, at info level unless the chart's
// logLevel asks for debug.
func TestShippedArgsParse(t *testing.T) {
	helm := testenv.Tool(t, "HELM", "helm")
	chart := filepath.Join(testenv.ModuleRoot(t), "charts/update-session-operator")
	sources := map[string][]*unstructured.Unstructured{
		"config/default": testenv.Kustomize(t, "config/default"),
		"chart":          testenv.DecodeObjects(t, testenv.Run(t, helm, "template", "uso", chart)),
		"chart with values": testenv.DecodeObjects(t, testenv.Run(t, helm, "template", "uso", chart,
			"--set", "leaderElection.enabled=false,metrics.enabled=false,metrics.secure=false,rest.tls.mode=disabled",
			"--set", "sessionTimeout=90s,terminalRetention=1h,keepaliveCoalesceWindow=0s,rest.port=9443,rest.shutdownDelay=2s",
			"--set", "logLevel=debug",
			"--set", "extraArgs={--max-concurrent-reconciles=8}")),
	}
	defaults, _ := bindFlags(flag.NewFlagSet("manager", flag.ContinueOnError))
	for source, objs := range sources {
		t.Run(source, func(t *testing.T) {
			for _, m := range managerFlags(t, objs) {
				if err := m.flags.validate(); err != nil {
					t.Error(err)
				}
				// A default changed in the manager but not in the chart (or the other way round)
				// would make the two installs behave differently.
				if source != "chart with values" && m.flags.operator.Policy != defaults.operator.Policy {
					t.Errorf("session policy %+v, want the manager's defaults %+v", m.flags.operator.Policy, defaults.operator.Policy)
				}
				if m.log.Development {
					t.Error("development logging: a line per REST call, stack traces from warnings")
				}
				if debug := logs(m.log, zapcore.DebugLevel); debug != (source == "chart with values") {
					t.Errorf("debug logging %v, want it only where logLevel=debug", debug)
				}
				if !logs(m.log, zapcore.InfoLevel) {
					t.Error("info lines (the manager's start, expiries' errors) not logged")
				}
			}
		})
	}
}

// parsedArgs are a container's arguments parsed as the manager's flags.
type parsedArgs struct {
	flags *config
	log   *zap.Options
}

// logs reports whether a manager with log options o logs lines of level l; without a level
// set, o logs from info up, or from debug up in development mode (as zap.New decides).
func logs(o *zap.Options, l zapcore.Level) bool {
	if o.Level != nil {
		return o.Level.Enabled(l)
	}
	return l >= zapcore.InfoLevel || o.Development
}

// managerFlags parses the arguments of each container of the one Deployment in objs as the
// manager's flags.
func managerFlags(t *testing.T, objs []*unstructured.Unstructured) []parsedArgs {
	t.Helper()
	var parsed []parsedArgs
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
			f, log := bindFlags(fs)
			if err := fs.Parse(c.Args); err != nil {
				t.Errorf("container %s: args %q: %v", c.Name, c.Args, err)
				continue
			}
			if fs.NArg() > 0 {
				t.Errorf("container %s: stray arguments %q", c.Name, fs.Args())
			}
			parsed = append(parsed, parsedArgs{f, log})
		}
	}
	if deployments != 1 {
		t.Fatalf("%d Deployments, want 1", deployments)
	}
	return parsed
}
