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

// limitedReviews refuses a review at once, with ErrThrottled, when it is over the rate or the
// concurrency limit; it never queues, so a flood cannot make anyone wait.
type limitedReviews struct {
	next  authenticator.Token
	rate  *rate.Limiter
	slots chan struct{}
}

func newLimitedReviews(next authenticator.Token, l ReviewLimits) *limitedReviews {
	return &limitedReviews{
		next:  next,
		rate:  rate.NewLimiter(rate.Limit(l.QPS), l.Burst),
		slots: make(chan struct{}, max(l.Concurrency, 1)),
	}
}

func (l *limitedReviews) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		return nil, false, ErrThrottled
	}
	defer func() { <-l.slots }()
	if !l.rate.Allow() {
		return nil, false, ErrThrottled
	}
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
