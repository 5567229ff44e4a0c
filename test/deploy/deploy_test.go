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

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"

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
	mayKeepLogins(t, objs)
	keepsRESTUp(t, objs)
	t.Logf("applied %d objects of config/default", len(objs))
}

// mayKeepLogins checks that the manager's ServiceAccount among objs may do, in its own
// namespace, all that logins do with their Secrets (see package login), and may not read
// Secrets elsewhere.
func mayKeepLogins(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var sa *unstructured.Unstructured
	for _, obj := range objs {
		if obj.GetKind() == "ServiceAccount" {
			sa = obj
		}
	}
	if sa == nil {
		t.Fatal("no ServiceAccount applied")
	}
	user := serviceaccount.MakeUsername(sa.GetNamespace(), sa.GetName())
	groups := serviceaccount.MakeGroupNames(sa.GetNamespace())
	for _, check := range []struct {
		namespace, verb string
		want            bool
	}{
		{sa.GetNamespace(), "get", true}, {sa.GetNamespace(), "list", true},
		{sa.GetNamespace(), "create", true}, {sa.GetNamespace(), "delete", true},
		{"default", "get", false},
	} {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: check.namespace, Verb: check.verb, Resource: "secrets"},
		}}
		if err := env.Client.Create(context.Background(), review); err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != check.want {
			t.Errorf("%s may %s secrets in %s: %v, want %v", user, check.verb, check.namespace, review.Status.Allowed, check.want)
		}
	}
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
