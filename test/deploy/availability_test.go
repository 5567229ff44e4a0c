package deploy

import (
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// keepsRESTUp checks that objs keep the REST API up through a node drain and a node's loss: a
// PodDisruptionBudget that lets one replica at a time go, and a preference for spreading the
// replicas over nodes. Both must select the Deployment's pods: a selector that matches nothing
// is accepted by the API server and protects nothing.
func keepsRESTUp(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	d := manager(t, objs)
	pods := labels.Set(d.Spec.Template.Labels)
	var spread []metav1.LabelSelector
	for _, c := range d.Spec.Template.Spec.TopologySpreadConstraints {
		if c.TopologyKey == "kubernetes.io/hostname" && c.LabelSelector != nil {
			spread = append(spread, *c.LabelSelector)
		}
	}
	var budgets []policyv1.PodDisruptionBudget
	for _, obj := range objs {
		if obj.GetKind() == "PodDisruptionBudget" {
			var b policyv1.PodDisruptionBudget
			fromUnstructured(t, obj, &b)
			budgets = append(budgets, b)
		}
	}
	if len(budgets) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(budgets))
	}
	b := budgets[0]
	if !selects(t, b.Spec.Selector, pods) {
		t.Errorf("PodDisruptionBudget selector %v does not select the manager's pods %v", b.Spec.Selector, pods)
	}
	if one := intstr.FromInt32(1); b.Spec.MaxUnavailable == nil || *b.Spec.MaxUnavailable != one {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1 (a drain goes ahead even with one replica)",
			b.Spec.MaxUnavailable)
	}
	if len(spread) != 1 || !selects(t, &spread[0], pods) {
		t.Errorf("topology spread over kubernetes.io/hostname %v, want one that selects the manager's pods %v",
			spread, pods)
	}
}

// selects reports whether sel matches a pod with labels pods.
func selects(t *testing.T, sel *metav1.LabelSelector, pods labels.Set) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(pods)
}
