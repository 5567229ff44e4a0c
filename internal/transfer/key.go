package transfer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// KeySecretName is the Secret that holds the key of the upload capabilities, in the
	// operator's namespace.
	KeySecretName = "update-session-operator-transfer-key"
	// keyField is the Secret's data key of the key.
	keyField = "key"
	// keyBytes is the length of the key: 256 bits, SHA-256's block of security.
	keyBytes = 32
)

// Keys gives the key capabilities are made with (RBAC: get and create on Secrets in the
// operator's namespace, which config/rbac/login_role.yaml grants). Every replica must make and check the same
// capabilities, whichever replica answered the add: the key lives in a Secret of the operator's
// namespace, created by the first replica that needs it and read by every other. Without a
// namespace it is random and in memory: capabilities then hold on this replica alone.
type Keys struct {
	client    client.Client
	reader    client.Reader
	namespace string

	mu  sync.Mutex
	key []byte
}

// NewKeys returns the Keys kept in the Secret KeySecretName of namespace, read with reader
// (the API server: the manager's cache does not hold Secrets) and created with c.
func NewKeys(c client.Client, reader client.Reader, namespace string) *Keys {
	return &Keys{client: c, reader: reader, namespace: namespace}
}

// MemoryKeys returns Keys holding a random key in memory.
func MemoryKeys() *Keys {
	k := &Keys{key: make([]byte, keyBytes)}
	_, _ = rand.Read(k.key)
	return k
}

// Key returns the key, getting or creating its Secret on the first call that succeeds. A call
// that fails (the API server is unreachable) is retried by the next: the key is never
// replaced by another, which would void every capability already handed out.
func (k *Keys) Key(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	key, err := k.getOrCreate(ctx)
	if err != nil {
		return nil, fmt.Errorf("the key of upload capabilities (Secret %s/%s): %w", k.namespace, KeySecretName, err)
	}
	k.key = key
	return key, nil
}

// getOrCreate reads the key's Secret, creating it when missing; a replica that loses the race
// to create it reads the winner's.
func (k *Keys) getOrCreate(ctx context.Context) ([]byte, error) {
	for range 2 {
		key, err := k.get(ctx)
		if !apierrors.IsNotFound(err) {
			return key, err
		}
		key = make([]byte, keyBytes)
		_, _ = rand.Read(key)
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: k.namespace, Name: KeySecretName},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{keyField: key},
			Immutable:  ptr.To(true),
		}
		err = k.client.Create(ctx, secret)
		if !apierrors.IsAlreadyExists(err) {
			return key, err
		}
	}
	return nil, errors.New("the Secret was created and deleted again while it was read")
}

func (k *Keys) get(ctx context.Context) ([]byte, error) {
	var secret corev1.Secret
	if err := k.reader.Get(ctx, client.ObjectKey{Namespace: k.namespace, Name: KeySecretName}, &secret); err != nil {
		return nil, err
	}
	key := secret.Data[keyField]
	if len(key) < keyBytes {
		return nil, fmt.Errorf("the Secret's %q holds %d bytes, fewer than %d", keyField, len(key), keyBytes)
	}
	return key, nil
}
