package testenv

import (
	"context"
	"path/filepath"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// Verbs a caller may be granted on the sessions of both kinds.
var (
	EditorVerbs = []string{verbGet, "list", "watch", "create", "update", "patch", "delete"}
	ViewerVerbs = []string{verbGet, "list", "watch"}
)

const verbGet = "get"

// Caller is a service account and a token of it from the TokenRequest API.
type Caller struct {
	Namespace, Name string
	Token           string
}

// SessionResources are the resources ServiceAccount grants verbs on: the sessions of both
// kinds, as the aggregated view, edit and admin roles do.
var SessionResources = []string{"updatesessions", "downloadsessions"}

// ServiceAccount creates a ServiceAccount in namespace, grants it verbs on the sessions of both
// kinds there through a Role and RoleBinding (none when verbs is empty), and returns it with a
// fresh token.
func (e *Env) ServiceAccount(t testing.TB, namespace, name string, verbs ...string) Caller {
	return e.ServiceAccountOn(t, namespace, name, SessionResources, verbs...)
}

// ServiceAccountOn is ServiceAccount with the verbs granted on resources of the API group alone.
func (e *Env) ServiceAccountOn(t testing.TB, namespace, name string, resources []string, verbs ...string) Caller {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := e.Client.Create(ctx, sa); err != nil {
		t.Fatalf("creating service account: %v", err)
	}
	if len(verbs) > 0 {
		e.grant(t, namespace, name, resources, verbs)
	}
	return Caller{Namespace: namespace, Name: name, Token: e.Token(t, namespace, name)}
}

// Token requests a token of the service account namespace/name from the TokenRequest API,
// issued for audiences (none: the API server's own).
func (e *Env) Token(t testing.TB, namespace, name string, audiences ...string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.CP.Config)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600)), Audiences: audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting a token: %v", err)
	}
	return tr.Status.Token
}

func (e *Env) grant(t testing.TB, namespace, name string, resources, verbs []string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{v1alpha1.GroupVersion.Group},
			Resources: resources,
			Verbs:     verbs,
		}},
	}
	binding := roleBinding(namespace, name, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name})
	if err := e.Client.Create(ctx, role); err != nil {
		t.Fatalf("creating role: %v", err)
	}
	if err := e.Client.Create(ctx, binding); err != nil {
		t.Fatalf("creating role binding: %v", err)
	}
}

// OperatorKubeconfig writes a kubeconfig that connects as the operator's ServiceAccount, with a
// token from the TokenRequest API as a pod's would be, and returns its path: for running
// bin/manager itself against the tests' control plane.
func (e *Env) OperatorKubeconfig(t testing.TB) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: e.CP.Config.Host, CertificateAuthorityData: e.CP.Config.CAData}
	cfg.AuthInfos["operator"] = &clientcmdapi.AuthInfo{Token: e.Token(t, OperatorNamespace, OperatorServiceAccount)}
	cfg.Contexts["operator"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "operator"}
	cfg.CurrentContext = "operator"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatalf("writing the operator's kubeconfig: %v", err)
	}
	return path
}

// GrantLibraryItems grants the ServiceAccount name of namespace the right to read library
// items' files and storage there: get on the virtual resource libraryitems.
func (e *Env) GrantLibraryItems(t testing.TB, namespace, name string) {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-items"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{v1alpha1.GroupVersion.Group},
			Resources: []string{"libraryitems"},
			Verbs:     []string{verbGet},
		}},
	}
	binding := roleBinding(namespace, role.Name, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name})
	for _, obj := range []client.Object{role, binding} {
		if err := e.Client.Create(context.Background(), obj); err != nil {
			t.Fatalf("creating %T: %v", obj, err)
		}
	}
}
