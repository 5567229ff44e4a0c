#!/usr/bin/env bash
# Prints every object of config/default with the manager image set to $2, built with the
# kustomize at $1. It sets the image in a throw-away overlay (under the ignored dist/) rather
# than with `kustomize edit` in config/manager, so that building an installer changes no
# committed file.
set -euo pipefail
kustomize=$1 image=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$root/dist"
overlay=$(mktemp -d "$root/dist/.overlay-XXXXXX")
trap 'rm -rf "$overlay"' EXIT
name=${image%:*} tag=latest
if [[ "${image##*/}" == *:* ]]; then tag=${image##*:}; else name=$image; fi
cat > "$overlay/kustomization.yaml" <<YAML
resources:
- ../../config/default
images:
- name: controller
  newName: $name
  newTag: "$tag"
YAML
"$kustomize" build "$overlay"
