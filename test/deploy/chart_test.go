package deploy

import (
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/contentlib/update-session-operator/config/rbac"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

const chart = "charts/update-session-operator"

// prometheusOperatorModule holds the CRDs of the ServiceMonitor and PrometheusRule the chart
// and config/prometheus make.
const prometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

var crdsOnce sync.Once

// installCRDs installs cert-manager's and the Prometheus Operator's CRDs, once per run.
func installCRDs(t *testing.T) {
	t.Helper()
	crdsOnce.Do(func() {
		installModuleCRDs(t, certManagerModule, "deploy/crds/*.yaml")
		installModuleCRDs(t, prometheusOperatorModule, "example/prometheus-operator-crd/*.yaml")
	})
}

// helmTemplate renders the chart with the given --set values into the namespace ns.
func helmTemplate(t *testing.T, ns string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := make([]string, 0, 5+2*len(set))
	args = append(args, "template", "uso", filepath.Join(testenv.ModuleRoot(t), chart), "--namespace", ns)
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return testenv.DecodeObjects(t, testenv.Run(t, testenv.Tool(t, "HELM", "helm"), args...))
}

// manager returns the manager's Deployment among objs.
func manager(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() == "Deployment" {
			var d appsv1.Deployment
			fromUnstructured(t, obj, &d)
			return &d
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	for _, c := range manager(t, objs).Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c.Args
		}
	}
	t.Fatal("no manager container in the rendered chart")
	return nil
}

func kinds(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetKind())
	}
	return out
}

func TestChartLints(t *testing.T) {
	testenv.Run(t, testenv.Tool(t, "HELM", "helm"), "lint", "--strict", filepath.Join(testenv.ModuleRoot(t), chart))
}

// TestChartApplies renders the chart with default values, with TLS off and a custom timeout,
// and with everything on, and applies each with a server-side dry run.
func TestChartApplies(t *testing.T) {
	installCRDs(t)
	cases := []struct {
		name  string
		set   []string
		check func(t *testing.T, objs []*unstructured.Unstructured, args []string)
	}{
		{"default values", nil, func(t *testing.T, objs []*unstructured.Unstructured, args []string) {
			for _, want := range []string{"--leader-elect=true", "--session-timeout=5m", "--rest-cert-dir=/tmp/k8s-rest-server/serving-certs",
				"--content-store=file:///var/lib/update-session-operator/content"} {
				if !slices.Contains(args, want) {
					t.Errorf("args %q lack %s", args, want)
				}
			}
			for _, kind := range []string{"Certificate", "Issuer", "CustomResourceDefinition"} {
				if kind == "CustomResourceDefinition" {
					continue // CRDs are in crds/, which helm template leaves out unless --include-crds
				}
				if !slices.Contains(kinds(objs), kind) {
					t.Errorf("no %s rendered: %v", kind, kinds(objs))
				}
			}
			keepsRESTUp(t, objs)
			keepsContentOnAClaim(t, objs)
		}},
		{"TLS off, a 30-minute timeout, one replica left alone", []string{"rest.tls.mode=disabled", "sessionTimeout=30m",
			"image.tag=v9", "replicas=1", "podDisruptionBudget.enabled=false", "spreadAcrossNodes=false"},
			func(t *testing.T, objs []*unstructured.Unstructured, args []string) {
				if slices.Contains(kinds(objs), "PodDisruptionBudget") {
					t.Error("a PodDisruptionBudget was rendered with podDisruptionBudget.enabled=false")
				}
				if spread := manager(t, objs).Spec.Template.Spec.TopologySpreadConstraints; len(spread) > 0 {
					t.Errorf("topology spread %v with spreadAcrossNodes=false", spread)
				}
				if !slices.Contains(args, "--session-timeout=30m") || slices.ContainsFunc(args, func(a string) bool {
					return strings.HasPrefix(a, "--rest-cert-dir")
				}) {
					t.Errorf("args %q: want --session-timeout=30m and no --rest-cert-dir", args)
				}
				if slices.Contains(kinds(objs), "Certificate") {
					t.Error("a Certificate was rendered with TLS off")
				}
			}},
		{"everything on, an existing Secret for TLS", []string{"rest.tls.mode=secret", "rest.tls.secretName=my-tls",
			"serviceMonitor.enabled=true", "prometheusRule.enabled=true", "grafanaDashboard.enabled=true",
			"networkPolicy.enabled=true", "replicas=3", "extraArgs={--max-concurrent-reconciles=8}",
			"contentStore.type=s3", "contentStore.s3.url=s3://content?endpoint=https://minio.example.com", "contentStore.s3.secretName=s3"},
			func(t *testing.T, objs []*unstructured.Unstructured, args []string) {
				for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "ConfigMap"} {
					if !slices.Contains(kinds(objs), kind) {
						t.Errorf("no %s rendered: %v", kind, kinds(objs))
					}
				}
				if !slices.Contains(args, "--max-concurrent-reconciles=8") {
					t.Errorf("args %q lack the extra argument", args)
				}
				if !slices.Contains(args, "--content-store=s3://content?endpoint=https://minio.example.com") {
					t.Errorf("args %q lack the S3 content store", args)
				}
				if slices.Contains(kinds(objs), "PersistentVolumeClaim") {
					t.Error("a PersistentVolumeClaim was rendered with contentStore.type=s3")
				}
				if env := manager(t, objs).Spec.Template.Spec.Containers[0].EnvFrom; len(env) != 1 || env[0].SecretRef.Name != "s3" {
					t.Errorf("envFrom %v: want the S3 credentials' Secret", env)
				}
			}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t)
			objs := helmTemplate(t, ns, tc.set...)
			tc.check(t, objs, managerArgs(t, objs))
			env.ApplyObjects(t, objs, true)
			grantsLogins(t, ns, objs)
			if i == 0 {
				// The chart's CRDs are config/crd/bases, copied by make manifests.
				for _, name := range crdFiles(t) {
					a, _ := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "config/crd/bases", name))
					b, _ := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), chart, "crds", name))
					if string(a) != string(b) {
						t.Errorf("%s/crds/%s differs from config/crd/bases: run make manifests", chart, name)
					}
				}
			}
		})
	}
}

func crdFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(testenv.ModuleRoot(t), "config/crd/bases"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestInstallerApplies builds dist/install.yaml as make build-installer does, with an image,
// and applies it server-side to an API server that has cert-manager's CRDs.
func TestInstallerApplies(t *testing.T) {
	installCRDs(t)
	const image = "registry.example.com/update-session-operator:v1.2.3"
	out := testenv.Run(t, filepath.Join(testenv.ModuleRoot(t), "hack/build-installer.sh"),
		testenv.Tool(t, "KUSTOMIZE", "kustomize"), image)
	objs := testenv.DecodeObjects(t, out)
	if !strings.Contains(string(out), "image: "+image) {
		t.Fatalf("the installer does not use the image %s", image)
	}
	env.ApplyObjects(t, objs, false)
	t.Logf("dist/install.yaml: %d objects applied server-side", len(objs))
}

// TestChartWarnsWithoutTLS installs the chart with a server-side dry run and checks that its
// notes warn when the REST API serves plain HTTP, and only then.
func TestChartWarnsWithoutTLS(t *testing.T) {
	installCRDs(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.CP.WriteAdminKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"disabled", "certManager"} {
		out := string(testenv.Run(t, testenv.Tool(t, "HELM", "helm"), "install", "uso-"+strings.ToLower(mode),
			filepath.Join(testenv.ModuleRoot(t), chart), "--kubeconfig", kubeconfig, "--namespace", env.Namespace(t),
			"--dry-run=server", "--set", "rest.tls.mode="+mode))
		if warned := strings.Contains(out, "WARNING: rest.tls.mode=disabled"); warned != (mode == "disabled") {
			t.Errorf("rest.tls.mode=%s: NOTES warn = %v:\n%s", mode, warned, out[strings.Index(out, "NOTES:"):])
		}
	}
}

// TestChartRefusesBadValues renders the chart with values the manager or the chart cannot
// work with: helm refuses them, naming the value, instead of installing pods that crash.
func TestChartRefusesBadValues(t *testing.T) {
	helm := testenv.Tool(t, "HELM", "helm")
	for _, set := range []string{"rest.tls.mode=letsencrypt", "logLevel=verbose", "logLevel=0",
		"contentStore.type=nfs", "contentStore.s3.url=https://bucket,contentStore.type=s3", "replicas=2"} {
		value := strings.SplitN(set, "=", 2)[0] // the first value set is the one refused
		cmd := exec.Command(helm, "template", "uso", filepath.Join(testenv.ModuleRoot(t), chart), "--set", set)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), value+" must be") {
			t.Errorf("--set %s: err %v, output %q; want a refusal naming %s", set, err, out, value)
		}
	}
}

// keepsContentOnAClaim checks that the manager keeps content on the chart's claim, which helm
// keeps on uninstall, and is replaced by Recreate, as a ReadWriteOnce claim cannot be mounted
// by two pods.
func keepsContentOnAClaim(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var claim *unstructured.Unstructured
	for _, obj := range objs {
		if obj.GetKind() == "PersistentVolumeClaim" {
			claim = obj
		}
	}
	if claim == nil || claim.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
		t.Fatalf("no PersistentVolumeClaim kept on uninstall: %v", claim)
	}
	spec := manager(t, objs).Spec
	if spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q: want Recreate with a ReadWriteOnce claim", spec.Strategy.Type)
	}
	for _, v := range spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim.GetName() {
			return
		}
	}
	t.Errorf("the manager does not mount the claim %s", claim.GetName())
}

// grantsLogins checks that the rendered chart binds, in the release namespace ns, the manager's
// ServiceAccount to a Role with the rules of config/rbac/login_role.yaml: what logins need (the
// chart is applied as a dry run, so no SubjectAccessReview can tell; config/default's test asks
// one).
func grantsLogins(t *testing.T, ns string, objs []*unstructured.Unstructured) {
	t.Helper()
	want, err := rbac.LoginRole()
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]*rbacv1.Role{}
	var bindings []*rbacv1.RoleBinding
	for _, obj := range objs {
		switch obj.GetKind() {
		case "Role":
			role := &rbacv1.Role{}
			fromUnstructured(t, obj, role)
			roles[role.Name] = role
		case "RoleBinding":
			binding := &rbacv1.RoleBinding{}
			fromUnstructured(t, obj, binding)
			bindings = append(bindings, binding)
		}
	}
	for _, b := range bindings {
		role := roles[b.RoleRef.Name]
		if role == nil || role.Namespace != ns || b.Namespace != ns || !equality.Semantic.DeepEqual(role.Rules, want.Rules) {
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == ns && s.Name == "uso-update-session-operator" {
				return
			}
		}
	}
	t.Errorf("no Role in %s with the rules of config/rbac/login_role.yaml is bound to the manager's ServiceAccount", ns)
}

func fromUnstructured(t *testing.T, obj *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into); err != nil {
		t.Fatal(err)
	}
}
