package v1alpha1_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// No operator runs in these tests: the API server alone must enforce every rule.

func TestCreateValidation(t *testing.T) {
	ns := env.Namespace(t)
	cases := []struct {
		name    string
		mutate  func(*v1alpha1.UpdateSession)
		wantErr string // empty: accepted
	}{
		{"minimal session is accepted", func(*v1alpha1.UpdateSession) {}, ""},
		{"every field set is accepted", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemContentVersion = "7"
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](86400)
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{
				{Type: v1alpha1.WarningSelfSigned, Ignored: true}, {Type: v1alpha1.WarningUntrusted}}
		}, ""},
		{"empty libraryItemID", func(us *v1alpha1.UpdateSession) { us.Spec.LibraryItemID = "" }, "spec.libraryItemID"},
		{"libraryItemID of 256 characters", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemID = strings.Repeat("a", 256)
		}, "spec.libraryItemID: Too long"},
		{"timeout 0", func(us *v1alpha1.UpdateSession) {
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](0)
		}, "spec.expirationTimeoutSeconds: Invalid value: 0: spec.expirationTimeoutSeconds in body should be greater than or equal to 1"},
		{"timeout 86401", func(us *v1alpha1.UpdateSession) {
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](86401)
		}, "should be less than or equal to 86400"},
		{"unknown warning type", func(us *v1alpha1.UpdateSession) {
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{{Type: "BAD_CERTIFICATE"}}
		}, `spec.warningBehavior[0].type: Unsupported value: "BAD_CERTIFICATE"`},
		{"two entries of one warning type", func(us *v1alpha1.UpdateSession) {
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{
				{Type: v1alpha1.WarningExpired}, {Type: v1alpha1.WarningExpired, Ignored: true}}
		}, "spec.warningBehavior[1]: Duplicate value"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := testenv.NewSession(ns, "create-"+string(rune('a'+i)), 0)
			tc.mutate(us)
			err := env.Client.Create(context.Background(), us)
			checkErr(t, err, tc.wantErr)
		})
	}
}

func TestSpecUpdateValidation(t *testing.T) {
	ns := env.Namespace(t)
	cases := []struct {
		name    string
		mutate  func(*v1alpha1.UpdateSession)
		wantErr string
	}{
		{"changing libraryItemID", func(us *v1alpha1.UpdateSession) { us.Spec.LibraryItemID = "other" }, "libraryItemID is immutable"},
		{"changing libraryItemContentVersion", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemContentVersion = "2"
		}, "libraryItemContentVersion is immutable"},
		{"removing libraryItemContentVersion", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemContentVersion = ""
		}, "libraryItemContentVersion is immutable"},
		{"changing warningBehavior is allowed", func(us *v1alpha1.UpdateSession) {
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{{Type: v1alpha1.WarningNotYetValid, Ignored: true}}
		}, ""},
		{"changing the timeout is allowed", func(us *v1alpha1.UpdateSession) {
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](60)
		}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := testenv.NewSession(ns, "spec-"+string(rune('a'+i)), 0)
			us.Spec.LibraryItemContentVersion = "1"
			mustCreate(t, us)
			tc.mutate(us)
			checkErr(t, env.Client.Update(context.Background(), us), tc.wantErr)
		})
	}
}

func TestAddingContentVersionIsRefused(t *testing.T) {
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "no-version", 0)
	mustCreate(t, us)
	us.Spec.LibraryItemContentVersion = "3"
	checkErr(t, env.Client.Update(context.Background(), us), "libraryItemContentVersion is immutable")
}

func TestSpecOfEndedSessionIsFrozen(t *testing.T) {
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "ended", 0)
	mustCreate(t, us)
	us.Status = activeStatus(us, 10)
	us.Status.State = v1alpha1.StateDone
	mustUpdateStatus(t, us)
	us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](99)
	checkErr(t, env.Client.Update(context.Background(), us), "spec cannot change once the session has ended")
}

func TestStatusValidation(t *testing.T) {
	ns := env.Namespace(t)
	later := func(st *v1alpha1.UpdateSessionStatus, d time.Duration) *metav1.MicroTime {
		m := metav1.NewMicroTime(st.LastActivity.Add(d))
		return &m
	}
	cases := []struct {
		name    string
		from    v1alpha1.SessionState
		mutate  func(*v1alpha1.UpdateSessionStatus)
		wantErr string
	}{
		{"progress moving up", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ClientProgress = 60 }, ""},
		{"progress moving down", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ClientProgress = 9 }, "clientProgress never decreases"},
		{"progress above 100", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ClientProgress = 101 }, "should be less than or equal to 100"},
		{"lastActivity moving forward", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.LastActivity = later(st, time.Microsecond)
		}, ""},
		{"lastActivity moving back", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.LastActivity = later(st, -time.Microsecond)
		}, "lastActivity never decreases"},
		{"lastActivity removed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.LastActivity = nil }, "lastActivity cannot be removed"},
		{"ACTIVE to DONE", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.State = v1alpha1.StateDone }, ""},
		{"DONE to ACTIVE", v1alpha1.StateDone, func(st *v1alpha1.UpdateSessionStatus) { st.State = v1alpha1.StateActive }, "a terminal state never changes"},
		{"CANCELED to ERROR", v1alpha1.StateCanceled, func(st *v1alpha1.UpdateSessionStatus) { st.State = v1alpha1.StateError }, "a terminal state never changes"},
		{"unknown state", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.State = "PAUSED" }, `Unsupported value: "PAUSED"`},
		{"state removed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.State = "" }, "state cannot be removed"},
		{"id changed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ID = "other" }, "id is immutable"},
		{"id removed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ID = "" }, "id cannot be removed"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := testenv.NewSession(ns, "status-"+string(rune('a'+i)), 0)
			mustCreate(t, us)
			us.Status = activeStatus(us, 10)
			us.Status.State = tc.from
			mustUpdateStatus(t, us)
			tc.mutate(&us.Status)
			checkErr(t, env.Client.Status().Update(context.Background(), us), tc.wantErr)
		})
	}
}

func TestNegativeProgressIsRefused(t *testing.T) {
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "negative", 0)
	mustCreate(t, us)
	us.Status = activeStatus(us, -1)
	checkErr(t, env.Client.Status().Update(context.Background(), us), "should be greater than or equal to 0")
}

func activeStatus(us *v1alpha1.UpdateSession, progress int64) v1alpha1.UpdateSessionStatus {
	now := metav1.NewMicroTime(time.Now().UTC().Truncate(time.Microsecond))
	return v1alpha1.UpdateSessionStatus{
		ID: string(us.UID), State: v1alpha1.StateActive, ClientProgress: progress,
		LastActivity: &now, ExpirationTime: &now,
	}
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create: %v", err)
	}
}

func mustUpdateStatus(t *testing.T, us *v1alpha1.UpdateSession) {
	t.Helper()
	if err := env.Client.Status().Update(context.Background(), us); err != nil {
		t.Fatalf("status update: %v", err)
	}
}

// checkErr fails unless err is nil when want is empty, or contains want otherwise.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("want accepted, got %v", err)
	case want != "" && err == nil:
		t.Fatalf("want refused with %q, got accepted", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("want error containing %q, got %v", want, err)
	}
}
