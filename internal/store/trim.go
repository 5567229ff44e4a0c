package store

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// Trim drops from a session what the operator never reads: managedFields, annotations, labels,
// finalizers and owner references. Anyone who may edit sessions can make those large (256 KiB of
// annotations each), and every replica would hold them for every session; what the operator
// reads is bounded by the schema. Writes never carry a trimmed session's metadata back (see
// Update), so the API server keeps what was trimmed.
func Trim(s metav1.Object) {
	s.SetManagedFields(nil)
	s.SetAnnotations(nil)
	s.SetLabels(nil)
	s.SetFinalizers(nil)
	s.SetOwnerReferences(nil)
}

// TrimTransform is the cache transform of sessions of both kinds: it trims them (see Trim)
// before the informer stores them. Any other object passes unchanged.
func TrimTransform(obj any) (any, error) {
	if s, ok := obj.(v1alpha1.Session); ok {
		Trim(s)
	}
	return obj, nil
}
