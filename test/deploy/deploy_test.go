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
// need, served by the Go module proxy.
const certManagerModule = "github.com/cert-manager/cert-manager@v1.21.2"

// installCertManagerCRDs installs cert-manager's CRDs from its Go module.
func installCertManagerCRDs(t *testing.T) {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", certManagerModule).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", certManagerModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %s", certManagerModule, out)
	}
	files, err := filepath.Glob(filepath.Join(mod.Dir, "deploy", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s/deploy/crds: %v", mod.Dir, err)
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
	installCertManagerCRDs(t)
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
