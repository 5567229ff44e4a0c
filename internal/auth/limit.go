package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// ErrThrottled means the API-server review a call needs is over the share of its source or caller
// (see FairLimiter); the caller should retry shortly.
var ErrThrottled = errors.New("the reviews this caller needs are over its share of the review budget; retry shortly")

// ReviewLimits bound the API-server calls that callers the caches do not know cost: the
// TokenReviews of tokens that are not the cluster's service-account tokens (shared fairly by
// source), and the Secret reads of unknown login ids.
type ReviewLimits struct {
	// QPS and Burst: the rate of reviews.
	QPS   float64
	Burst int
	// Concurrency: reviews in flight at once.
	Concurrency int
}

// DefaultReviewLimits are the limits of the TokenReviews of tokens of other kinds: a rate
// well below what the API server serves, and a few reviews in flight.
var DefaultReviewLimits = ReviewLimits{QPS: 20, Burst: 40, Concurrency: 8}

// Limiter bounds the API-server calls that callers the caches do not know cost, to a rate and
// a number in flight. It refuses at once, with ErrThrottled, when over either; it never
// queues, so a flood cannot make anyone wait.
type Limiter struct {
	rate  *rate.Limiter
	slots chan struct{}
}

// NewLimiter returns a Limiter with the limits l.
func NewLimiter(l ReviewLimits) *Limiter {
	return &Limiter{rate: rate.NewLimiter(rate.Limit(l.QPS), l.Burst), slots: make(chan struct{}, max(l.Concurrency, 1))}
}

// Take takes a place for one call, to be given back with release, or refuses with ErrThrottled.
func (l *Limiter) Take() (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
	default:
		return nil, ErrThrottled
	}
	if !l.rate.Allow() {
		<-l.slots
		return nil, ErrThrottled
	}
	return func() { <-l.slots }, nil
}

type sourceKey struct{}

// WithSource returns ctx carrying the source of a call (its client's IP address): the key by
// which reviews are shared fairly.
func WithSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

// SourceOf is the source WithSource put in ctx, "" when none.
func SourceOf(ctx context.Context) string {
	source, _ := ctx.Value(sourceKey{}).(string)
	return source
}

// TokenExpiry is the exp claim of a token that is a JWT, as the API server's service-account
// tokens are; zero when it has none. It is read without checking the signature: it only makes
// an expired token fail early, keeps a token's review from being remembered past its expiry,
// and tells when a login of the token may go.
func TokenExpiry(token string) time.Time {
	if !jwtShaped(token) {
		return time.Time{}
	}
	_, rest, _ := strings.Cut(token, ".")
	encoded, _, _ := strings.Cut(rest, ".")
	payload, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(claims.Exp, 0)
}
