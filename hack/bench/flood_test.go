package main

import (
	"math"
	"net/http"
	"testing"
)

func TestFloodTargets(t *testing.T) {
	served := clientTally{sent: 15000}
	attacks := func(sent ...int64) []attackTally {
		tallies := make([]attackTally, len(sent))
		for i, n := range sent {
			tallies[i] = attackTally{sent: n}
		}
		return tallies
	}
	for _, tc := range []struct {
		name                string
		flood               floodResult
		reviewsPerAttack    float64
		clientsMet, reviews bool
	}{
		{"every keep-alive answered, no session lost, few reviews meets both",
			floodResult{legit: served, attacks: attacks(60000, 40000), reviews: 100}, 0.001, true, true},
		{"one keep-alive refused fails the clients' target",
			floodResult{legit: clientTally{sent: 15000, failed: 1}, attacks: attacks(100000), reviews: 100}, 0.001, false, true},
		{"a session lost fails the clients' target though every keep-alive was answered",
			floodResult{legit: clientTally{sent: 15000, lost: 1}, attacks: attacks(100000)}, 0, false, true},
		{"no keep-alive sent meets no clients' target",
			floodResult{attacks: attacks(100000)}, 0, false, true},
		{"a review for every attack request fails the reviews' target",
			floodResult{legit: served, attacks: attacks(30000, 30000), reviews: 62400}, 1.04, true, false},
		{"exactly 0.05 reviews per attack request meets it",
			floodResult{legit: served, attacks: attacks(1000, 1000), reviews: 100}, 0.05, true, true},
		{"just over 0.05 reviews per attack request fails it",
			floodResult{legit: served, attacks: attacks(1000, 1000), reviews: 101}, 0.0505, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.flood.reviewsPerAttack(); math.Abs(got-tc.reviewsPerAttack) > 1e-9 {
				t.Errorf("reviewsPerAttack() = %v, want %v", got, tc.reviewsPerAttack)
			}
			rows := tc.flood.targets()
			if rows[0].met != tc.clientsMet || rows[1].met != tc.reviews {
				t.Errorf("targets met (clients, reviews) = (%v, %v), want (%v, %v)", rows[0].met, rows[1].met,
					tc.clientsMet, tc.reviews)
			}
		})
	}
}

func TestFloodWithoutAttacksMeetsNoReviewsTarget(t *testing.T) {
	f := floodResult{legit: clientTally{sent: 100}}
	if got := f.reviewsPerAttack(); !math.IsNaN(got) {
		t.Errorf("reviewsPerAttack() = %v with no attack sent, want NaN", got)
	}
	if f.reviewsMet() {
		t.Error("reviewsMet() with no attack sent, want not met")
	}
}

func TestAttackTallyOther(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers map[int]int64
		want    int64
	}{
		{"401, 403 and 503 are no other answers", map[int]int64{
			http.StatusUnauthorized: 5, http.StatusForbidden: 4, http.StatusServiceUnavailable: 3}, 0},
		{"any other status and no answer at all are", map[int]int64{
			http.StatusUnauthorized: 5, http.StatusNoContent: 2, http.StatusInternalServerError: 1, 0: 7}, 10},
		{"nothing sent", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (attackTally{answers: tc.answers}).other(); got != tc.want {
				t.Errorf("other() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestReviewName(t *testing.T) {
	for resource, want := range map[string]string{
		"tokenreviews": "TokenReviews", "subjectaccessreviews": "SubjectAccessReviews", "leases": "leases",
	} {
		if got := reviewName(resource); got != want {
			t.Errorf("reviewName(%q) = %q, want %q", resource, got, want)
		}
	}
}
