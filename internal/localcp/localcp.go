// Package localcp runs a local Kubernetes control plane, kube-apiserver and etcd as envtest
// starts them, with the operator's CRDs installed: what --local-control-plane and the tests run
// against. The binaries come from KUBEBUILDER_ASSETS, else from setup-envtest's store, where
// `make envtest-assets` builds them.
package localcp

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/contentlib/update-session-operator/config/crd"
)

var log = logf.Log.WithName("local-control-plane")

// KubernetesVersion is the version of the kube-apiserver that hack/envtest builds.
const KubernetesVersion = "1.37.2"

// ControlPlane is a running local control plane.
type ControlPlane struct {
	env *envtest.Environment
	// Config is an admin connection to the API server.
	Config *rest.Config
}

// Start starts kube-apiserver and etcd and installs the CRDs.
func Start() (*ControlPlane, error) {
	crds, err := crd.CRDs()
	if err != nil {
		return nil, err
	}
	for _, o := range reapOrphans(AssetsDir()) {
		log.Info("Killed a control-plane process an earlier run left running", "process", o.name, "pid", o.pid)
	}
	env := &envtest.Environment{
		CRDInstallOptions:     envtest.CRDInstallOptions{CRDs: crds},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: AssetsDir(),
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s (run `make envtest-assets` to build them): %w",
			AssetsDir(), err)
	}
	return &ControlPlane{env: env, Config: cfg}, nil
}

// Stop stops the API server and etcd and removes their data.
func (cp *ControlPlane) Stop() error { return cp.env.Stop() }

// AddUser provisions a user in the given groups and returns a connection as that user.
func (cp *ControlPlane) AddUser(name string, groups ...string) (*envtest.AuthenticatedUser, error) {
	return cp.env.AddUser(envtest.User{Name: name, Groups: groups}, cp.Config)
}

// WriteAdminKubeconfig writes a kubeconfig for a system:masters user to path.
func (cp *ControlPlane) WriteAdminKubeconfig(path string) error {
	user, err := cp.AddUser("local-admin", "system:masters")
	if err != nil {
		return err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// AssetsDir is where the kube-apiserver and etcd binaries are: $KUBEBUILDER_ASSETS, else the
// folder of setup-envtest's store that hack/envtest-assets.sh fills.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	store, err := envtest.SetupEnvtestDefaultBinaryAssetsDirectory()
	if err != nil {
		return ""
	}
	return filepath.Join(store, KubernetesVersion+"-"+runtime.GOOS+"-"+runtime.GOARCH)
}

// ServiceAccountKeyFile is the PEM file of the private key the API server signs service-account
// tokens with; tests use it to mint tokens the API server must refuse, such as expired ones.
func (cp *ControlPlane) ServiceAccountKeyFile() string {
	return filepath.Join(cp.env.ControlPlane.GetAPIServer().CertDir, "sa-signer.key")
}
