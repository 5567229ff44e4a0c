#!/usr/bin/env bash
# Prints, as its last line, the folder that holds the kube-apiserver and etcd
# binaries envtest needs, building them from source first if they are missing.
#
# The binaries are built from the hack/envtest module through the Go module proxy
# (no download from anywhere else) and kept in setup-envtest's own store, outside
# the clone, so `setup-envtest use -i 1.37.2` finds them and later runs are instant.
set -euo pipefail

version=1.37.2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
os=$(go env GOOS)
arch=$(go env GOARCH)
store=${ENVTEST_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest}
dir="$store/k8s/$version-$os-$arch"

if [[ ! -x "$dir/kube-apiserver" || ! -x "$dir/etcd" ]]; then
  echo "building kube-apiserver and etcd $version into $dir (about 6 minutes the first time)" >&2
  tmp="$dir.tmp.$$"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  cd "$here/envtest"
  echo "  kube-apiserver..." >&2
  CGO_ENABLED=0 go build -trimpath -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  echo "  etcd..." >&2
  CGO_ENABLED=0 go build -trimpath -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  mkdir -p "$dir"
  mv "$tmp/kube-apiserver" "$tmp/etcd" "$dir/"
  echo "done" >&2
fi
echo "$dir"
