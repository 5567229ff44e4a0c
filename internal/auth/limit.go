package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apiserver/pkg/authentication/authenticator"
)

// ErrThrottled: the token is not in the cache and the TokenReviews it would cost are over
// their limits; the caller should retry shortly.
var ErrThrottled = errors.New("too many unknown tokens are being reviewed; retry shortly")

// ReviewLimits bound the TokenReviews that tokens the cache does not know cost, so that a flood
// of garbage tokens costs the API server a fixed rate and never starves known callers, whose
// tokens are answered from the cache.
type ReviewLimits struct {
	// QPS and Burst: the rate of reviews.
	QPS   float64
	Burst int
	// Concurrency: reviews in flight at once.
	Concurrency int
}

// DefaultReviewLimits: 20 reviews a second (40 at once after a quiet spell), 8 in flight.
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

// limitedReviews reviews tokens within a Limiter.
type limitedReviews struct {
	next  authenticator.Token
	limit *Limiter
}

func newLimitedReviews(next authenticator.Token, l ReviewLimits) *limitedReviews {
	return &limitedReviews{next: next, limit: NewLimiter(l)}
}

func (l *limitedReviews) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	release, err := l.limit.Take()
	if err != nil {
		return nil, false, err
	}
	defer release()
	return l.next.AuthenticateToken(ctx, token)
}

// TokenExpiry is the exp claim of a token that is a JWT, as the API server's service-account
// tokens are; zero when it has none. It is read without checking the signature: it only makes
// an expired token fail early, keeps a token's review from being remembered past its expiry,
// and tells when a login of the token may go.
func TokenExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
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
