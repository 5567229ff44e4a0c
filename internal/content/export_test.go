package content

import "time"

// The conformance suites, for the tests in package content_test that run them against a real
// S3-compatible server (started through internal/testenv, which package content's own tests
// cannot import: it imports what imports content).
var (
	TestBucketConformance = testBucket
	TestStoreConformance  = testStore
)

// NewBucketFunc returns an empty bucket for one test.
type NewBucketFunc = newBucketFunc

// SetNow replaces the store's clock.
func SetNow(s *Store, now func() time.Time) { s.now = now }
