package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ModuleRoot is the folder of the operator's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Tool returns the path of a tool the Makefile installs: from the environment variable
// (make test sets it), else bin/<name> in the module.
func Tool(t testing.TB, envVar, name string) string {
	t.Helper()
	if path := os.Getenv(envVar); path != "" {
		return path
	}
	path := filepath.Join(ModuleRoot(t), "bin", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found: run the tests with make test, which installs it (or set %s)", name, envVar)
	}
	return path
}

// Run runs a command and returns its standard output, failing the test with its standard
// error when it fails.
func Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, stderr.String())
	}
	return stdout.Bytes()
}

// Kustomize builds a kustomization folder of the module (such as config/default) and
// returns its objects.
func Kustomize(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	return DecodeObjects(t, Run(t, Tool(t, "KUSTOMIZE", "kustomize"), "build", filepath.Join(ModuleRoot(t), dir)))
}

// DecodeObjects splits a multi-document YAML stream into objects.
func DecodeObjects(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decoding YAML: %v", err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// ApplyObjects applies objects with server-side apply, namespaces and CRDs first, and waits
// for every CRD among them to be established; with dryRun the API server only validates them.
func (e *Env) ApplyObjects(t testing.TB, objs []*unstructured.Unstructured, dryRun bool) {
	t.Helper()
	ctx := context.Background()
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	opts := []client.ApplyOption{client.FieldOwner("update-session-operator-tests"), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	for _, obj := range sorted {
		if err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...); err != nil {
			t.Fatalf("applying %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		if obj.GetKind() == "CustomResourceDefinition" && !dryRun {
			e.waitEstablished(t, obj.GetName())
		}
	}
}

func (e *Env) waitEstablished(t testing.TB, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := e.Client.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
				return false, err
			}
			return slices.ContainsFunc(crd.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
				return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
			}), nil
		})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
}
