package store

import "github.com/contentlib/update-session-operator/api/v1alpha1"

// Trim drops from us what the operator never reads: managedFields, annotations, labels,
// finalizers and owner references. Anyone who may edit sessions can make those large (256 KiB of
// annotations each), and every replica would hold them for every session; what the operator
// reads is bounded by the schema. Writes never carry a trimmed session's metadata back (see
// Update), so the API server keeps what was trimmed.
func Trim(us *v1alpha1.UpdateSession) {
	us.ManagedFields = nil
	us.Annotations = nil
	us.Labels = nil
	us.Finalizers = nil
	us.OwnerReferences = nil
}

// TrimTransform is the cache transform of sessions: it trims them (see Trim) before the
// informer stores them. Any other object passes unchanged.
func TrimTransform(obj any) (any, error) {
	if us, ok := obj.(*v1alpha1.UpdateSession); ok {
		Trim(us)
	}
	return obj, nil
}
