#!/usr/bin/env bash
# Prints, as its last line, the folder that holds the kube-apiserver, etcd and kubectl binaries
# that envtest and --local-control-plane run, building any that is missing from source first.
#
# They are built from the hack/envtest module through the Go module proxy (nothing is
# downloaded from anywhere else) into setup-envtest's own store, outside the clone, so that
# `setup-envtest use -i 1.37.2` finds them and every later run takes no time.
set -euo pipefail

version=1.37.2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
store=${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest
dir="$store/k8s/$version-$(go env GOOS)-$(go env GOARCH)"

declare -A packages=(
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [etcd]=go.etcd.io/etcd/server/v3
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
)

mkdir -p "$dir"
for bin in kube-apiserver etcd kubectl; do
  [[ -x "$dir/$bin" ]] && continue
  echo "building $bin $version into $dir (a few minutes, once)" >&2
  # Build beside the target and rename, so that an interrupted build leaves nothing behind.
  (cd "$here/envtest" && CGO_ENABLED=0 go build -trimpath -o "$dir/.$bin.tmp" "${packages[$bin]}")
  mv "$dir/.$bin.tmp" "$dir/$bin"
done
echo "$dir"
