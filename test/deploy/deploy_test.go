// Package deploy checks what ships for a cluster (the kustomize bases) against a real API
// server: that it applies, and that the manager accepts what it is given.
package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// certManagerModule holds the cert-manager CRDs that config/default's Certificate and Issuer
// need, served by the Go module proxy (like the other modules whose CRDs the tests install).
const certManagerModule = "github.com/cert-manager/cert-manager@v1.21.2"

// installModuleCRDs installs the CRDs that the files matching glob of a Go module hold.
func installModuleCRDs(t *testing.T, module, glob string) {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", module, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %s", module, out)
	}
	files, err := filepath.Glob(filepath.Join(mod.Dir, glob))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s/%s: %v", mod.Dir, glob, err)
	}
	crds := make([]*unstructured.Unstructured, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, testenv.DecodeObjects(t, data)...)
	}
	env.ApplyObjects(t, crds, false)
}

// TestConfigDefaultApplies applies kustomize build config/default, as make deploy does, to an
// API server with cert-manager's CRDs, and checks that every object is there.
func TestConfigDefaultApplies(t *testing.T) {
	installCRDs(t)
	objs := testenv.Kustomize(t, "config/default")
	env.ApplyObjects(t, objs, false)
	for _, obj := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(obj.GroupVersionKind())
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
			t.Errorf("%s %s after apply: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	t.Logf("applied %d objects of config/default", len(objs))
}

// TestOptionalBasesApply applies the optional kustomize bases (monitoring, dashboard, network
// policies) to a namespace of the test, with the Prometheus Operator's CRDs installed.
func TestOptionalBasesApply(t *testing.T) {
	installCRDs(t)
	for _, dir := range []string{"config/prometheus", "config/grafana", "config/network-policy"} {
		t.Run(dir, func(t *testing.T) {
			ns := env.Namespace(t)
			objs := testenv.Kustomize(t, dir)
			for _, obj := range objs {
				obj.SetNamespace(ns)
			}
			env.ApplyObjects(t, objs, false)
		})
	}
}
