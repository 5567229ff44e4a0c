// Package login turns a Kubernetes token into a short session id, as a vSphere login does: a
// client that logs in then sends 32 characters on every call instead of a kilobyte-long token,
// and a session id that leaks (into a log, say) opens this API only, not the cluster's.
//
// Every replica must find the caller from the id alone, whichever replica the login went to,
// with no state in memory that a restart loses. So the id is derived from the token (a login
// with the same token answers the same id on every replica, with no coordination), and the
// login stores the token in a Secret of the operator's namespace that any replica reads:
// named after a hash of the id, and encrypted with a key derived from the id. The id itself is
// stored nowhere, so whoever reads those Secrets learns no token without also holding its id.
package login

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/internal/auth"
)

// The Secrets that hold logins.
const (
	// SecretType is the type of a login's Secret.
	SecretType corev1.SecretType = "library.contentlib.dev/login"
	// Label marks a login's Secret, so that the sweeper lists only those.
	Label = "library.contentlib.dev/login"
	// IdentityLabel holds a hash of the user name a login was made for (IdentityHash), so that
	// every replica can count an identity's logins with one list of metadata.
	IdentityLabel = "library.contentlib.dev/login-identity"
	// DefaultMaxPerIdentity is how many logins of unexpired tokens one identity may have stored.
	DefaultMaxPerIdentity = 16
	// ExpiresAnnotation is when the token of a login expires (RFC 3339): the sweeper deletes the
	// Secret after that. Tokens without an expiry have none.
	ExpiresAnnotation = "library.contentlib.dev/expires"
	// tokenKey is the Secret's data key of the encrypted token.
	tokenKey = "token"
	// idBytes is the length of a session id before it is spelled in hex: 128 bits.
	idBytes = 16
	// maxSessions bounds the sessions a replica remembers; past it, those whose caller must be
	// reviewed again are dropped, and should that not be enough, all (each is read again).
	maxSessions = 1 << 16
)

// Errors of Authenticate.
var (
	// ErrUnknown means no login made this id.
	ErrUnknown = errors.New("the session id is unknown: log in (POST /api/session) for a new one")
	// ErrTooMany means the identity has as many logins stored as it may; the login was not stored.
	ErrTooMany = errors.New("the caller has as many logins stored as it may")
	// ErrEnded means the token the session was made from is no longer valid.
	ErrEnded = errors.New("the session has ended: the token it was made from has expired or was revoked; log in again")
)

// IsID reports whether s has the shape of a session id: 32 lowercase hex digits. A value of
// that shape in vmware-api-session-id is looked up as a session, never reviewed as a token.
func IsID(s string) bool {
	if len(s) != 2*idBytes {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Store makes and finds login sessions.
type Store struct {
	// client writes and deletes Secrets; reader reads them from the API server (the manager's
	// cache does not hold Secrets).
	client    client.Client
	reader    client.Reader
	namespace string
	gate      *auth.Gate
	// perIdentity bounds the logins stored for one identity (see Login).
	perIdentity int

	// lookups bound the reads that ids this replica does not know cost, as the Gate bounds the
	// reviews of unknown tokens: a flood of made-up ids costs the API server a fixed rate.
	lookups *auth.Limiter
	// clock tells when tokens expire and which remembered callers must be reviewed again.
	clock  clock.PassiveClock
	flight singleflight.Group

	mu   sync.RWMutex
	byID map[string]*auth.Caller
}

// New returns a Store that keeps logins in namespace and authenticates their tokens with gate.
// limits bound the Secret reads of ids the replica does not know; perIdentity bounds the logins
// stored for one identity (DefaultMaxPerIdentity when not positive).
func New(c client.Client, reader client.Reader, namespace string, gate *auth.Gate, limits auth.ReviewLimits,
	perIdentity int) *Store {
	if perIdentity <= 0 {
		perIdentity = DefaultMaxPerIdentity
	}
	return &Store{
		client: c, reader: reader, namespace: namespace, gate: gate, perIdentity: perIdentity,
		lookups: auth.NewLimiter(limits),
		clock:   clock.RealClock{},
		byID:    map[string]*auth.Caller{},
	}
}

// WithClock makes s tell time by c, for tests on a fake clock; it returns s.
func (s *Store) WithClock(c clock.PassiveClock) *Store {
	s.clock = c
	return s
}

// Namespace is where the Store keeps logins.
func (s *Store) Namespace() string { return s.namespace }

// Login returns the session id of token, whose caller the Gate has authenticated (nil: not
// yet), and makes sure every replica can find it. A caller may have at most perIdentity logins
// of unexpired tokens stored, counted on the API server so that every replica agrees (logins
// made at the same moment on several replicas may pass the count together); past that, Login
// stores nothing and answers ErrTooMany. A token already logged in is never refused: its
// login is stored already, and it answers the same id.
func (s *Store) Login(ctx context.Context, token string, caller *auth.Caller) (string, error) {
	k := deriveID(token)
	id := hex.EncodeToString(k)
	if s.cached(id) != nil {
		return id, nil
	}
	identity := ""
	if caller != nil {
		identity = IdentityHash(caller.GetName())
	}
	secret, err := sealed(k, token, s.namespace, identity)
	if err != nil {
		return "", err
	}
	if identity != "" {
		stored, err := s.checkRoom(ctx, identity, secret.Name, s.clock.Now())
		if err != nil {
			return "", err
		}
		if stored {
			s.remember(id, caller)
			return id, nil
		}
	}
	if err := s.client.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("storing the login in Secret %s/%s: %w", s.namespace, secret.Name, err)
	}
	if caller != nil {
		s.remember(id, caller)
	}
	return id, nil
}

// checkRoom lists the metadata of identity's logins and reports whether the Secret name is
// among them; if not, it refuses with ErrTooMany when identity already has perIdentity logins
// whose tokens have not expired at now.
func (s *Store) checkRoom(ctx context.Context, identity, name string, now time.Time) (stored bool, err error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := s.reader.List(ctx, list, client.InNamespace(s.namespace),
		client.MatchingLabels{Label: "true", IdentityLabel: identity}); err != nil {
		return false, fmt.Errorf("counting the caller's logins: %w", err)
	}
	live := 0
	for i := range list.Items {
		switch {
		case list.Items[i].Name == name:
			return true, nil
		case !expired(&list.Items[i], now):
			live++
		}
	}
	if live >= s.perIdentity {
		return false, fmt.Errorf("%w (%d logins of unexpired tokens)", ErrTooMany, live)
	}
	return false, nil
}

// IdentityHash is the IdentityLabel of the logins of user: a hash of the name, so that any
// name fits a label value.
func IdentityHash(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:16])
}

// Authenticate returns the caller of a session id. The caller stands as long as its token's
// review does (auth.TokenCacheTTL); then the token is read again and reviewed again, so that a
// revoked token, or a deleted login, ends the session within that time on every replica.
func (s *Store) Authenticate(ctx context.Context, id string) (*auth.Caller, error) {
	now := s.clock.Now()
	if c := s.cached(id); c != nil && c.Valid(now) {
		return c, nil
	}
	c, err, _ := s.flight.Do(id, func() (any, error) { return s.resolve(ctx, id) })
	if err != nil {
		return nil, err
	}
	return c.(*auth.Caller), nil
}

// resolve reads a session's token from its Secret and authenticates it. Reading an id this
// replica has not seen is subject to the lookup limits; reading one it knows is not, so that a
// flood of made-up ids never ends a known client's session.
func (s *Store) resolve(ctx context.Context, id string) (*auth.Caller, error) {
	k, ok := decodeID(id)
	if !ok {
		return nil, ErrUnknown
	}
	if s.cached(id) == nil {
		release, err := s.lookups.Take()
		if err != nil {
			return nil, err
		}
		defer release()
	}
	secret := &corev1.Secret{}
	err := s.reader.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: secretName(k)}, secret)
	switch {
	case apierrors.IsNotFound(err):
		s.forget(id)
		return nil, ErrUnknown
	case err != nil:
		return nil, fmt.Errorf("reading the login: %w", err)
	}
	token, err := open(k, secret)
	if err != nil {
		return nil, ErrUnknown
	}
	caller, err := s.gate.Authenticate(ctx, token)
	if errors.Is(err, auth.ErrInvalidToken) {
		s.forget(id)
		// The token will never be accepted again: nobody needs its login any more.
		_ = s.client.Delete(ctx, secret, client.Preconditions{UID: &secret.UID})
		return nil, ErrEnded
	}
	if err != nil {
		return nil, err
	}
	s.remember(id, caller)
	return caller, nil
}

func (s *Store) cached(id string) *auth.Caller {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

func (s *Store) remember(id string, c *auth.Caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		now := s.clock.Now()
		for id, c := range s.byID {
			if !c.Valid(now) {
				delete(s.byID, id)
			}
		}
	}
	if len(s.byID) >= maxSessions {
		clear(s.byID)
	}
	s.byID[id] = c
}

func (s *Store) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// SecretName is the name of the Secret of a session id, for an administrator who ends a
// session by deleting it. It is empty for a value that is not a session id.
func SecretName(id string) string {
	k, ok := decodeID(id)
	if !ok {
		return ""
	}
	return secretName(k)
}

// decodeID is the bytes of session id id; ok is false for a value that is not a session id.
func decodeID(id string) (k []byte, ok bool) {
	if !IsID(id) {
		return nil, false
	}
	k, err := hex.DecodeString(id)
	return k, err == nil
}

// deriveID is a token's session id, before it is spelled in hex.
func deriveID(token string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(token), nil, "update-session-operator login id", idBytes)
	if err != nil {
		panic(err) // only for lengths sha256 cannot give
	}
	return k
}

// secretName is the name of the Secret of session id k: a hash of it, from which k cannot be
// recovered.
func secretName(k []byte) string {
	name, err := hkdf.Key(sha256.New, k, nil, "update-session-operator login name", 16)
	if err != nil {
		panic(err)
	}
	return "login-" + hex.EncodeToString(name)
}

// aead is the cipher of session id k's token.
func aead(k []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, k, nil, "update-session-operator login key", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealed is the Secret of a login: token encrypted with a key of session id k, bound to the
// Secret's name, and immutable; labelled with the IdentityHash identity when it is not empty.
func sealed(k []byte, token, namespace, identity string) (*corev1.Secret, error) {
	gcm, err := aead(k)
	if err != nil {
		return nil, err
	}
	name := secretName(k)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			Labels:    map[string]string{Label: "true", "app.kubernetes.io/managed-by": "update-session-operator"},
		},
		Type:      SecretType,
		Immutable: ptr.To(true),
		Data:      map[string][]byte{tokenKey: gcm.Seal(nonce, nonce, []byte(token), []byte(name))},
	}
	if identity != "" {
		secret.Labels[IdentityLabel] = identity
	}
	if exp := auth.TokenExpiry(token); !exp.IsZero() {
		secret.Annotations = map[string]string{ExpiresAnnotation: exp.UTC().Format(time.RFC3339)}
	}
	return secret, nil
}

// open decrypts the token of session id k from its Secret.
func open(k []byte, secret *corev1.Secret) (string, error) {
	gcm, err := aead(k)
	if err != nil {
		return "", err
	}
	data := secret.Data[tokenKey]
	if len(data) < gcm.NonceSize() {
		return "", errors.New("no token")
	}
	token, err := gcm.Open(nil, data[:gcm.NonceSize()], data[gcm.NonceSize():], []byte(secret.Name))
	return string(token), err
}
