package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// tokenName is the name of the session a create with token makes: the API server's collision
// of two such names is what makes a retry find the first session.
func tokenName(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "us-" + hex.EncodeToString(sum[:12])
}

// made is the ACTIVE session "first" that a create with the token "t1" made earlier, of item.
func made(item string) *v1alpha1.UpdateSession {
	us := fixture()
	us.Name, us.UID, us.Status.ID, us.Spec.LibraryItemID = tokenName("t1"), "first", "first", item
	us.Annotations = map[string]string{v1alpha1.AnnotationClientToken: "t1"}
	return us
}

func TestCreate(t *testing.T) {
	ended := fixture()
	ended.Status.State = v1alpha1.StateDone
	elsewhere := fixture()
	elsewhere.Namespace = "other"
	unannotated := made("item")
	unannotated.Annotations = nil
	reconciled := metav1.NewMicroTime(testNow.Add(-time.Second))

	cases := []struct {
		name     string
		existing []client.Object
		token    string
		// firstReadMisses: the first read by name answers NotFound, as before a create with the
		// same token that races this one; reconcilerFirst: the reconciler initialises the status
		// right after the create.
		firstReadMisses, reconcilerFirst bool
		createErr, statusErr             error

		wantID      string
		wantErr     func(error) bool
		wantCreates int
	}{
		{name: "a create makes a session and initialises its status",
			wantID: "uid-us-", wantCreates: 1},
		{name: "a create with a token makes a session named after it", token: "t1",
			wantID: "uid-" + tokenName("t1"), wantCreates: 1},
		{name: "a retry with the same token gets the first session's id, with no create", token: "t1",
			existing: []client.Object{made("item")}, wantID: "first"},
		{name: "a token used for a session of another library item is refused", token: "t1",
			existing: []client.Object{made("other")},
			wantErr:  func(err error) bool { return errors.Is(err, ErrTokenReused) }},
		{name: "a session of the token's name made without the token is not this create's", token: "t1",
			existing: []client.Object{unannotated},
			wantErr:  func(err error) bool { return errors.Is(err, ErrTokenReused) }},
		{name: "an item with an ACTIVE session is busy", existing: []client.Object{fixture()},
			wantErr: func(err error) bool {
				var busy *ItemBusyError
				return errors.As(err, &busy) && *busy == ItemBusyError{Item: "item", Holder: "u"}
			}},
		{name: "an item whose session has ended is free", existing: []client.Object{ended},
			wantID: "uid-us-", wantCreates: 1},
		{name: "a session in another namespace does not hold the item", existing: []client.Object{elsewhere},
			wantID: "uid-us-", wantCreates: 1},
		{name: "a create racing another with the same token gets that one's id", token: "t1",
			existing:        []client.Object{made("item")},
			firstReadMisses: true, wantID: "first", wantCreates: 1},
		{name: "a status the reconciler initialised first stands", reconcilerFirst: true,
			wantID: "uid-us-", wantCreates: 1},
		{name: "a failed status write still answers the id, with an UninitialisedError", statusErr: errDown,
			wantID: "uid-us-", wantCreates: 1,
			wantErr: func(err error) bool { return errors.As(err, new(*UninitialisedError)) && isDown(err) }},
		{name: "a create in a missing namespace is the API server's NotFound, not a missing session",
			createErr: apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "ns"), wantCreates: 1,
			wantErr: func(err error) bool { return apierrors.IsNotFound(err) && !IsNotFound(err) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reads := 0
			a := newAPI(t, interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if reads++; tc.firstReadMisses && reads == 1 {
						return apierrors.NewNotFound(sessions, key.Name)
					}
					return c.Get(ctx, key, obj, opts...)
				},
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					if tc.createErr != nil {
						return tc.createErr
					}
					if err := c.Create(ctx, obj, opts...); err != nil || !tc.reconcilerFirst {
						return err
					}
					first := obj.(*v1alpha1.UpdateSession).DeepCopy()
					first.Status = v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: string(first.UID), State: v1alpha1.StateActive,
						LastActivity: &reconciled}}
					return c.Status().Update(ctx, first)
				},
				SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object,
					opts ...client.SubResourceUpdateOption) error {
					if tc.statusErr != nil {
						return tc.statusErr
					}
					return c.SubResource(sub).Update(ctx, obj, opts...)
				},
			}, tc.existing...)
			us := &v1alpha1.UpdateSession{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", GenerateName: "us-"},
				Spec:       v1alpha1.UpdateSessionSpec{LibraryItemID: "item"},
			}
			initialised := metav1.NewMicroTime(testNow)
			init := func(us *v1alpha1.UpdateSession) (bool, error) {
				us.Status = v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: string(us.UID), State: v1alpha1.StateActive, LastActivity: &initialised}}
				return true, nil
			}

			id, err := newTestStore(a).Create(context.Background(), us, tc.token, init)

			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Create: %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("Create: error %v, not the one expected", err)
			}
			if id != tc.wantID || a.creates != tc.wantCreates {
				t.Errorf("Create: id %q after %d creates, want %q after %d", id, a.creates, tc.wantID, tc.wantCreates)
			}
			if tc.wantCreates == 0 || tc.wantID == "" || tc.wantID == "first" || tc.statusErr != nil {
				return
			}
			got := stored(t, a, us)
			want := initialised
			if tc.reconcilerFirst {
				want = reconciled
			}
			if got.Status.ID != id || got.Status.LastActivity == nil || !got.Status.LastActivity.Equal(&want) {
				t.Errorf("stored status %+v, want id %s and lastActivity %v", got.Status, id, want)
			}
			if got.Annotations[v1alpha1.AnnotationClientToken] != tc.token {
				t.Errorf("stored client token %q, want %q", got.Annotations[v1alpha1.AnnotationClientToken], tc.token)
			}
		})
	}
}
