#!/usr/bin/env bash
# Prints, as its last line, a folder holding VMware's Python SDK for vSphere automation (the vAPI
# runtime and the vCenter bindings), ready for PYTHONPATH: what test/integration drives the
# JSON-RPC wire with.
#
# The SDK's wheels are VMware's, kept in third_party/vmware-python-sdk (PYTHON_SDK_WHEELS
# overrides where); they are extracted into bin/python-sdk, again only when they change. Their Python
# dependencies come from Debian (python3-requests, python3-six, python3-openssl), installed with
# apt-get only when missing: no Python package index is used.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
wheels=${PYTHON_SDK_WHEELS:-$root/third_party/vmware-python-sdk}
dest=$root/bin/python-sdk

missing=()
for pkg in python3 python3-requests python3-six python3-openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]} with apt-get (once)" >&2
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    "${sudo[@]}" apt-get update >&2
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
fi

shopt -s nullglob
found=("$wheels"/*.whl)
if ((${#found[@]} == 0)); then
  echo "no wheels in $wheels: set PYTHON_SDK_WHEELS to the folder of VMware's Python SDK wheels" >&2
  exit 1
fi
sums=$(cd "$wheels" && sha256sum -- *.whl)
if [[ ! -f "$dest/.wheels" || "$(cat "$dest/.wheels")" != "$sums" ]]; then
  echo "extracting ${#found[@]} wheels from $wheels into $dest" >&2
  # Extract beside the target and rename, so that an interrupted run leaves nothing half done.
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  for w in "${found[@]}"; do
    /usr/bin/python3 -m zipfile -e "$w" "$dest.tmp/"
  done
  echo "$sums" >"$dest.tmp/.wheels"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
fi
echo "$dest"
