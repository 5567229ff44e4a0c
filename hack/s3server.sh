#!/usr/bin/env bash
# Prints, as its last line, the absolute path of the versitygw binary that the content store's
# tests run as a real S3-compatible server, building it from source first if it is missing.
#
# It is built from the hack/s3server module through the Go module proxy (nothing is downloaded
# from anywhere else) into a cache outside the clone, so that every later run takes no time.
set -euo pipefail

version=v1.8.0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${XDG_CACHE_HOME:-$HOME/.cache}/update-session-operator/versitygw-$version-$(go env GOOS)-$(go env GOARCH)
bin="$dir/versitygw"

mkdir -p "$dir"
if [[ ! -x "$bin" ]]; then
  echo "building versitygw $version into $dir (a few minutes, once)" >&2
  # Build beside the target and rename, so that an interrupted build leaves nothing behind.
  (cd "$here/s3server" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" github.com/versity/versitygw/cmd/versitygw)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
