package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/session"
)

// ErrTokenReused means a create's client token names a session of another library item.
var ErrTokenReused = errors.New("client_token was already used to create a session of another library item")

// ItemBusyError means the library item already has an ACTIVE session, made by another create.
type ItemBusyError struct {
	// Item is the library item; Holder the id of its ACTIVE session.
	Item, Holder string
}

func (e *ItemBusyError) Error() string {
	return fmt.Sprintf("library item %s already has an ACTIVE update session, %s", e.Item, e.Holder)
}

// UninitialisedError means the session was created, and its id is returned with this error, but its
// status could not be initialised; the reconciler initialises it.
type UninitialisedError struct{ Err error }

func (e *UninitialisedError) Error() string { return e.Err.Error() }

func (e *UninitialisedError) Unwrap() error { return e.Err }

// Create makes us unless a session already answers for it, and returns the id of the session
// that does. With a client token, us is named after it (its GenerateName and a hash of the
// token), so that the API server itself makes a retry collide: a retry gets the id of the
// session the first call made, or ErrTokenReused if that one is of another library item. A
// library item has one ACTIVE session at a time: while another create's holds it, Create
// refuses with ItemBusyError. Both are asked of the API server, not the cache, which may not
// have seen a session made or completed a moment ago. The id is empty, with no error, when a
// create with the same token raced this one and its session is gone again.
//
// init then sets the new session's status, rather than leave it to the reconciler, so that
// lastActivity is the creation time to the microsecond. It changes only a status not yet
// initialised: should the reconciler have been first, its status stands. The session exists
// either way: a failure of that write is the reconciler's to mend, and is returned as an
// UninitialisedError with the id.
func (s *Store[S]) Create(ctx context.Context, us S, token string, init ChangeFunc[S]) (string, error) {
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		us.SetName(us.GetGenerateName() + hex.EncodeToString(sum[:12]))
		annotations := us.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[v1alpha1.AnnotationClientToken] = token
		us.SetAnnotations(annotations)
	}
	if id, err := s.byToken(ctx, us); id != "" || err != nil {
		return id, err
	}
	if err := s.checkItemFree(ctx, us); err != nil {
		return "", err
	}
	if err := s.client.Create(ctx, us); apierrors.IsAlreadyExists(err) {
		return s.byToken(ctx, us) // the same token raced us
	} else if err != nil {
		return "", err
	}
	_, err := s.Update(ctx, us, Status, func(us S) (bool, error) {
		if us.Lifecycle().ID != "" {
			return false, nil
		}
		return init(us)
	})
	if err != nil {
		return string(us.GetUID()), &UninitialisedError{Err: err}
	}
	return string(us.GetUID()), nil
}

// byToken returns the id of the session an earlier create with the same client token made, if
// there is one.
func (s *Store[S]) byToken(ctx context.Context, want S) (string, error) {
	if want.GetName() == "" {
		return "", nil
	}
	us := s.kind.newSession()
	err := s.apiReader.Get(ctx, client.ObjectKeyFromObject(want), us)
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", err
	case us.GetAnnotations()[v1alpha1.AnnotationClientToken] != want.GetAnnotations()[v1alpha1.AnnotationClientToken] ||
		us.LibraryItem() != want.LibraryItem():
		return "", ErrTokenReused
	}
	return string(us.GetUID()), nil
}

// checkItemFree refuses a create while the library item has an ACTIVE session, for a kind
// whose sessions hold their item exclusively (update sessions).
func (s *Store[S]) checkItemFree(ctx context.Context, us S) error {
	if !s.kind.exclusive {
		return nil
	}
	list, err := s.ListLive(ctx, us.GetNamespace(), us.LibraryItem())
	if err != nil {
		return err
	}
	// A holder made by a create with the same client token is this very create, retried or
	// racing: it is answered with that session's id, not refused.
	if holder, held, _ := session.Duplicates(list); held && (us.GetName() == "" || holder.GetName() != us.GetName()) {
		return &ItemBusyError{Item: us.LibraryItem(), Holder: holder.Lifecycle().ID}
	}
	return nil
}

// ListLive returns the sessions of namespace, only those of library item item when it is not
// empty, read from the API server: the cache may lag behind a session made or deleted a moment
// ago.
func (s *Store[S]) ListLive(ctx context.Context, namespace, item string) ([]S, error) {
	if item == "" {
		return s.listLive(ctx, client.InNamespace(namespace))
	}
	return s.listLive(ctx, client.InNamespace(namespace), client.MatchingFields{index.LibraryItem: item})
}

func (s *Store[S]) listLive(ctx context.Context, opts ...client.ListOption) ([]S, error) {
	list := s.kind.newList()
	if err := s.apiReader.List(ctx, list, opts...); err != nil {
		return nil, err
	}
	return s.kind.items(list), nil
}
