package login

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// pagedLogins serves a list of logins' metadata a page at a time, as the API server does, and
// fails the test on any list that is not of metadata only, of logins, and limited.
type pagedLogins struct {
	t     *testing.T
	items []metav1.PartialObjectMetadata
	lists int
}

func (p *pagedLogins) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	p.t.Fatal("the sweeper reads a Secret")
	return nil
}

func (p *pagedLogins) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	p.lists++
	o := (&client.ListOptions{}).ApplyOptions(opts)
	meta, ok := list.(*metav1.PartialObjectMetadataList)
	switch {
	case !ok:
		p.t.Fatalf("the sweeper lists %T, want metadata only", list)
	case o.Limit <= 0:
		p.t.Fatal("the sweeper lists without a limit")
	case o.LabelSelector == nil || !o.LabelSelector.Matches(labels.Set{Label: "true"}) ||
		o.LabelSelector.Matches(labels.Set{}):
		p.t.Fatalf("the sweeper lists with label selector %v, want logins only", o.LabelSelector)
	case o.FieldSelector == nil || o.FieldSelector.String() != "type="+string(SecretType):
		p.t.Fatalf("the sweeper lists with field selector %v, want type=%s", o.FieldSelector, SecretType)
	}
	start := 0
	if o.Continue != "" {
		start, _ = strconv.Atoi(o.Continue)
	}
	end := min(start+int(o.Limit), len(p.items))
	meta.Items = p.items[start:end]
	meta.Continue = ""
	if end < len(p.items) {
		meta.Continue = strconv.Itoa(end)
	}
	return nil
}

// deletions records the Secrets the sweeper deletes.
type deletions struct {
	client.Client
	names []string
}

func (d *deletions) Delete(_ context.Context, obj client.Object, opts ...client.DeleteOption) error {
	o := (&client.DeleteOptions{}).ApplyOptions(opts)
	if o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID != types.UID("uid-"+obj.GetName()) {
		return fmt.Errorf("delete of %s without its UID as precondition", obj.GetName())
	}
	d.names = append(d.names, obj.GetName())
	return nil
}

// TestSweepPagesThroughLogins: the sweeper reads the logins' metadata a page at a time and
// deletes the expired ones of every page, keeping those not yet expired and those without an
// expiry.
func TestSweepPagesThroughLogins(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 2*sweepPage + 7
	logins := &pagedLogins{t: t}
	var want []string
	for i := range n {
		meta := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: fmt.Sprintf("login-%04d", i), UID: types.UID(fmt.Sprintf("uid-login-%04d", i))}}
		switch i % 3 {
		case 0: // expired
			meta.Annotations = map[string]string{ExpiresAnnotation: now.Add(-time.Second).Format(time.RFC3339)}
			want = append(want, meta.Name)
		case 1: // not yet
			meta.Annotations = map[string]string{ExpiresAnnotation: now.Add(time.Hour).Format(time.RFC3339)}
		}
		logins.items = append(logins.items, meta)
	}
	deleted := &deletions{}
	s := &Store{client: deleted, reader: logins, namespace: "ns"}
	got, err := s.Sweep(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("Sweep deleted %d, want %d", got, len(want))
	}
	if diff := cmp.Diff(want, deleted.names); diff != "" {
		t.Errorf("deleted Secrets (-want +got):\n%s", diff)
	}
	if logins.lists != 3 {
		t.Errorf("Sweep listed %d pages, want 3", logins.lists)
	}
}
