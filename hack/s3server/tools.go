//go:build tools

// Package s3server pins the S3-compatible server that hack/s3server.sh builds for the tests.
package s3server

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
