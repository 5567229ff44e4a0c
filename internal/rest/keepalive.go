package rest

import (
	"context"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// keepAliveInput is the optional body of keep-alive.
type keepAliveInput struct {
	ClientProgress *int64 `json:"client_progress"`
}

// keepAlive moves lastActivity and expirationTime to now, and progress when given.
func (s *Server) keepAlive(ctx context.Context, c call) (any, error) {
	var in keepAliveInput
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	return nil, s.mutate(ctx, c.id, func(us *v1alpha1.UpdateSession) error {
		return s.Policy.KeepAlive(us, in.ClientProgress, s.Clock.Now())
	})
}
