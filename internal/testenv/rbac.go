package testenv

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/config/rbac"
)

// The operator's identity in the tests: a ServiceAccount bound to exactly the ClusterRole that
// config/rbac ships, to its login Role in the operator's namespace (where the tests' operators
// keep logins), and, in each test's namespace, to its leader-election Role.
const (
	OperatorNamespace      = "update-session-operator-system"
	OperatorServiceAccount = "controller-manager"
)

// installOperatorRBAC creates the operator's ServiceAccount and binds the shipped ClusterRole.
func installOperatorRBAC(ctx context.Context, c client.Client) error {
	role, err := rbac.ManagerRole()
	if err != nil {
		return fmt.Errorf("config/rbac/role.yaml: %w", err)
	}
	loginRole, err := rbac.LoginRole()
	if err != nil {
		return fmt.Errorf("config/rbac/login_role.yaml: %w", err)
	}
	loginRole.Namespace = OperatorNamespace
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: OperatorNamespace, Name: OperatorServiceAccount}},
		role,
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{operatorSubject()},
		},
		loginRole,
		roleBinding(OperatorNamespace, loginRole.Name, operatorSubject()),
	}
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// bindLeaderElection gives the operator the shipped leader-election Role in namespace.
func (e *Env) bindLeaderElection(t testing.TB, namespace string) {
	t.Helper()
	role, err := rbac.LeaderElectionRole()
	if err != nil {
		t.Fatalf("config/rbac/leader_election_role.yaml: %v", err)
	}
	role.Namespace = namespace
	for _, obj := range []client.Object{role, roleBinding(namespace, role.Name, operatorSubject())} {
		if err := e.Client.Create(context.Background(), obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

// roleBinding binds the Role named role in namespace to subject, under the Role's name.
func roleBinding(namespace, role string, subject rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   []rbacv1.Subject{subject},
	}
}

func operatorSubject() rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: OperatorNamespace, Name: OperatorServiceAccount}
}

// asOperator returns cfg acting as the operator's ServiceAccount, with the groups the API
// server gives service accounts.
func asOperator(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: serviceaccount.MakeUsername(OperatorNamespace, OperatorServiceAccount),
		Groups:   append(serviceaccount.MakeGroupNames(OperatorNamespace), "system:authenticated"),
	}
	return cfg
}
