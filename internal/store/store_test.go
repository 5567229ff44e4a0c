package store

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
)

var (
	sessions = schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "updatesessions"}

	errNotActive  = errors.New("not ACTIVE")
	errConflict   = apierrors.NewConflict(sessions, "s", errors.New("the object has been modified"))
	errGone       = apierrors.NewNotFound(sessions, "s")
	errDown       = apierrors.NewServiceUnavailable("the API server is down")
	toProgress50  = func(us *v1alpha1.UpdateSession) (bool, error) { return setProgress(us, 50) }
	nothingToDo   = func(*v1alpha1.UpdateSession) (bool, error) { return false, nil }
	claimsChanged = func(*v1alpha1.UpdateSession) (bool, error) { return true, nil }
)

// setProgress sets clientProgress on an ACTIVE session, and refuses any other.
func setProgress(us *v1alpha1.UpdateSession, p int64) (bool, error) {
	if us.Status.State != v1alpha1.StateActive {
		return false, errNotActive
	}
	us.Status.ClientProgress = p
	return true, nil
}

func isNotFound(err error) bool { return IsNotFound(err) }
func isBusy(err error) bool     { return errors.As(err, new(*BusyError)) }
func isRefused(err error) bool  { return errors.Is(err, errNotActive) }
func isDown(err error) bool     { return apierrors.IsServiceUnavailable(err) && !IsNotFound(err) }

// TestUpdateOutcomes walks Update through every outcome of apply: nothing to write, a write on
// the copy given, a conflict retried on the live session, a refusal on a stale copy decided
// again on the live one, a refusal on the live one, a session that keeps conflicting, a
// session gone (before the write, before the live read, or replaced), and any other error.
func TestUpdateOutcomes(t *testing.T) {
	cases := []struct {
		name string
		// cached is the state of the copy Update is given, as stored at first (empty: ACTIVE);
		// raced, when set, changes the stored session after the copy was taken.
		cached v1alpha1.SessionState
		raced  func(*v1alpha1.UpdateSession)
		change ChangeFunc[*v1alpha1.UpdateSession]
		// writeErrs answer the store's successive writes (nil: the fake API server answers);
		// live is how the live read finds the session: "" as stored, "gone" or "replaced".
		writeErrs []error
		live      string

		wantErr               func(error) bool // nil: no error
		wantWritten           bool
		wantWrites, wantReads int
		wantConflicts         float64
		wantProgress          int64 // of the session Update was given, afterwards
		wantState             v1alpha1.SessionState
	}{
		{name: "a change with nothing to write writes nothing", change: nothingToDo,
			wantState: v1alpha1.StateActive},
		{name: "a change that leaves the status as it was writes nothing, whatever it reports", change: claimsChanged,
			wantState: v1alpha1.StateActive},
		{name: "a change on a current copy is written once, without a read", change: toProgress50,
			wantWritten: true, wantWrites: 1, wantProgress: 50, wantState: v1alpha1.StateActive},
		{name: "a change on a stale copy conflicts and is applied anew to the live session", change: toProgress50,
			raced:       func(us *v1alpha1.UpdateSession) { us.Status.ClientProgress = 10 },
			wantWritten: true, wantWrites: 2, wantReads: 1, wantConflicts: 1, wantProgress: 50, wantState: v1alpha1.StateActive},
		{name: "a change refused on a stale copy is decided again on the live session", change: toProgress50,
			cached: v1alpha1.StateDone, raced: func(us *v1alpha1.UpdateSession) { us.Status.State = v1alpha1.StateActive },
			wantWritten: true, wantWrites: 1, wantReads: 1, wantProgress: 50, wantState: v1alpha1.StateActive},
		{name: "a change refused on the live session is refused, with the live session", change: toProgress50,
			cached: v1alpha1.StateDone, wantErr: isRefused, wantReads: 1, wantState: v1alpha1.StateDone},
		{name: "a change that conflicts with a completion is refused on the live session", change: toProgress50,
			raced:   func(us *v1alpha1.UpdateSession) { us.Status.State = v1alpha1.StateDone },
			wantErr: isRefused, wantWrites: 1, wantReads: 1, wantConflicts: 1, wantState: v1alpha1.StateDone},
		{name: "a session that conflicts on every write is busy after maxWriteAttempts", change: toProgress50,
			writeErrs: []error{errConflict, errConflict, errConflict, errConflict, errConflict},
			wantErr:   isBusy, wantWrites: maxWriteAttempts, wantReads: maxWriteAttempts - 1,
			wantConflicts: maxWriteAttempts, wantState: v1alpha1.StateActive},
		{name: "a session deleted before the write is not found", change: toProgress50,
			writeErrs: []error{errGone}, wantErr: isNotFound, wantWrites: 1, wantState: v1alpha1.StateActive},
		{name: "a session deleted before the live read is not found", change: toProgress50,
			writeErrs: []error{errConflict}, live: "gone",
			wantErr: isNotFound, wantWrites: 1, wantReads: 1, wantConflicts: 1, wantState: v1alpha1.StateActive},
		{name: "a session replaced by another of the same name is not found", change: toProgress50,
			writeErrs: []error{errConflict}, live: "replaced",
			wantErr: isNotFound, wantWrites: 1, wantReads: 1, wantConflicts: 1, wantState: v1alpha1.StateActive},
		{name: "any other error of the write is returned as it is, not retried", change: toProgress50,
			writeErrs: []error{errDown}, wantErr: isDown, wantWrites: 1, wantState: v1alpha1.StateActive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			initial := fixture()
			if tc.cached != "" {
				initial.Status.State = tc.cached
			}
			writes := 0
			a := newAPI(t, interceptor.Funcs{
				SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object,
					opts ...client.SubResourceUpdateOption) error {
					writes++
					if writes <= len(tc.writeErrs) && tc.writeErrs[writes-1] != nil {
						return tc.writeErrs[writes-1]
					}
					return c.SubResource(sub).Update(ctx, obj, opts...)
				},
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object,
					opts ...client.GetOption) error {
					switch tc.live {
					case "gone":
						return errGone
					case "replaced":
						err := c.Get(ctx, key, obj, opts...)
						obj.SetUID("another")
						return err
					}
					return c.Get(ctx, key, obj, opts...)
				},
			}, initial)
			us := stored(t, a, initial)
			if tc.raced != nil {
				newer := us.DeepCopy()
				tc.raced(newer)
				if err := a.raw.Status().Update(context.Background(), newer); err != nil {
					t.Fatal(err)
				}
			}
			conflicts := testutil.ToFloat64(metrics.WriteConflicts)

			written, err := newTestStore(a).Update(context.Background(), us, Status, tc.change)

			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Update: %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("Update: error %v, not the one expected", err)
			}
			if written != tc.wantWritten {
				t.Errorf("written = %v, want %v", written, tc.wantWritten)
			}
			if a.writes != tc.wantWrites || a.reads != tc.wantReads {
				t.Errorf("%d writes and %d live reads, want %d and %d", a.writes, a.reads, tc.wantWrites, tc.wantReads)
			}
			if got := testutil.ToFloat64(metrics.WriteConflicts) - conflicts; got != tc.wantConflicts {
				t.Errorf("%v conflicts counted, want %v", got, tc.wantConflicts)
			}
			if us.Status.ClientProgress != tc.wantProgress || us.Status.State != tc.wantState {
				t.Errorf("the session afterwards: progress %d in %s, want %d in %s",
					us.Status.ClientProgress, us.Status.State, tc.wantProgress, tc.wantState)
			}
			if tc.wantWritten && stored(t, a, us).Status.ClientProgress != tc.wantProgress {
				t.Errorf("the API server holds progress %d, want %d", stored(t, a, us).Status.ClientProgress, tc.wantProgress)
			}
		})
	}
}

// TestUpdateSpecPatchesWhatChanged: a spec write is a merge patch of the changed fields with
// the resourceVersion it was based on, so that a trimmed copy never erases the metadata the
// cache dropped.
func TestUpdateSpecPatchesWhatChanged(t *testing.T) {
	initial := fixture()
	initial.Annotations = map[string]string{"keep": "me"}
	var patches []string
	a := newAPI(t, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			data, err := patch.Data(obj)
			if err != nil {
				return err
			}
			patches = append(patches, string(data))
			return c.Patch(ctx, obj, patch, opts...)
		},
	}, initial)
	us := stored(t, a, initial)
	base := us.ResourceVersion
	Trim(us)
	written, err := newTestStore(a).Update(context.Background(), us, Spec, func(us *v1alpha1.UpdateSession) (bool, error) {
		us.Spec.LibraryItemContentVersion = "7"
		return true, nil
	})
	if err != nil || !written {
		t.Fatalf("Update: written %v, %v", written, err)
	}
	want := `{"metadata":{"resourceVersion":"` + base + `"},"spec":{"libraryItemContentVersion":"7"}}`
	if len(patches) != 1 || patches[0] != want {
		t.Errorf("patches sent: %q, want [%q]", patches, want)
	}
	if got := stored(t, a, us); got.Annotations["keep"] != "me" || got.Spec.LibraryItemContentVersion != "7" {
		t.Errorf("stored afterwards: annotations %v, spec %+v", got.Annotations, got.Spec)
	}
}

// TestDelete: a delete carries the UID and resourceVersion its check saw; a change that raced
// in makes it conflict, and the check decides again on the live session.
func TestDelete(t *testing.T) {
	errNotDue := errors.New("not due")
	notAfterKeepAlive := func(us *v1alpha1.UpdateSession) error {
		if us.Status.ClientProgress > 0 {
			return errNotDue
		}
		return nil
	}
	cases := []struct {
		name        string
		raced       func(*v1alpha1.UpdateSession) // nil: the copy is current
		gone        bool                          // deleted before the store's delete
		wantErr     func(error) bool
		wantDeletes int
		wantGone    bool
	}{
		{name: "a due session is deleted with preconditions", wantDeletes: 1, wantGone: true},
		{name: "a keep-alive that raced in makes the delete conflict, and the live session is kept",
			raced:   func(us *v1alpha1.UpdateSession) { us.Status.ClientProgress = 10 },
			wantErr: func(err error) bool { return errors.Is(err, errNotDue) }, wantDeletes: 1},
		{name: "a session deleted already is not found", gone: true, wantErr: isNotFound, wantDeletes: 1, wantGone: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []client.DeleteOptions
			a := newAPI(t, interceptor.Funcs{
				Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, o ...client.DeleteOption) error {
					var do client.DeleteOptions
					do.ApplyOptions(o)
					opts = append(opts, do)
					return c.Delete(ctx, obj, o...)
				},
			}, fixture())
			us := stored(t, a, fixture())
			seen := *us
			if tc.raced != nil {
				newer := us.DeepCopy()
				tc.raced(newer)
				if err := a.raw.Status().Update(context.Background(), newer); err != nil {
					t.Fatal(err)
				}
			}
			if tc.gone {
				if err := a.raw.Delete(context.Background(), us.DeepCopy()); err != nil {
					t.Fatal(err)
				}
			}

			err := newTestStore(a).Delete(context.Background(), us, notAfterKeepAlive)

			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Delete: %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("Delete: error %v, not the one expected", err)
			}
			if len(opts) != tc.wantDeletes {
				t.Fatalf("%d deletes sent, want %d", len(opts), tc.wantDeletes)
			}
			if p := opts[0].Preconditions; p == nil || p.UID == nil || *p.UID != seen.UID ||
				p.ResourceVersion == nil || *p.ResourceVersion != seen.ResourceVersion {
				t.Errorf("the delete's preconditions %+v, want UID %s and resourceVersion %s", p, seen.UID, seen.ResourceVersion)
			}
			err = a.raw.Get(context.Background(), client.ObjectKeyFromObject(us), &v1alpha1.UpdateSession{})
			if gone := apierrors.IsNotFound(err); gone != tc.wantGone {
				t.Errorf("the session is gone: %v, want %v", gone, tc.wantGone)
			}
		})
	}
}

// TestNotFoundIsOneContract: every way of reading a session the store has answers a missing
// one with NotFoundError.
func TestNotFoundIsOneContract(t *testing.T) {
	ctx := context.Background()
	a := newAPI(t, interceptor.Funcs{})
	s := newTestStore(a)
	missing := fixture()
	_, errGet := s.Get(ctx, client.ObjectKeyFromObject(missing))
	_, errLive := s.Live(ctx, missing)
	_, errLookup := s.Lookup(ctx, "u")
	_, errUpdate := s.Update(ctx, missing.DeepCopy(), Status, toProgress50)
	errDelete := s.Delete(ctx, missing.DeepCopy(), func(*v1alpha1.UpdateSession) error { return nil })
	for name, err := range map[string]error{"Get": errGet, "Live": errLive, "Lookup": errLookup,
		"Update": errUpdate, "Delete": errDelete} {
		if !IsNotFound(err) {
			t.Errorf("%s of a missing session: %v, want a NotFoundError", name, err)
		}
	}
}

// TestLookup: a session is looked up on the API server by its id, which is its UID.
func TestLookup(t *testing.T) {
	impostor := fixture()
	impostor.Name, impostor.UID, impostor.Status.ID = "impostor", "x", "v" // claims an id not its UID
	cases := []struct {
		name      string
		id        string
		wantFound string // name; empty: not found
		wantLists int
	}{
		{"a session is found by its id", "u", "s", 1},
		{"a session whose id names another UID is not found by it", "v", "", 1},
		{"an unknown id is not found", "w", "", 1},
		{"an id that is not a UID is not found, without a lookup", "u u", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lists := 0
			a := newAPI(t, interceptor.Funcs{
				List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
					lists++
					return c.List(ctx, list, opts...)
				},
			}, fixture(), impostor)
			us, err := newTestStore(a).Lookup(context.Background(), tc.id)
			switch {
			case tc.wantFound == "" && !IsNotFound(err):
				t.Errorf("Lookup: %v, want a NotFoundError", err)
			case tc.wantFound != "" && (err != nil || us.Name != tc.wantFound):
				t.Errorf("Lookup: %v, %v, want session %s", us, err, tc.wantFound)
			}
			if lists != tc.wantLists {
				t.Errorf("%d lists, want %d", lists, tc.wantLists)
			}
		})
	}
}
