package rest

import (
	"context"
	"net/http"
	"net/url"

	"github.com/contentlib/update-session-operator/internal/auth"
)

// newContentCall reads a file-service request's input and checks that the caller may run op
// on what its path names: a session (as the session operations do), the file service (probe:
// in the caller's namespace), or a library item in the caller's namespace.
func (s *Server) newContentCall(ctx context.Context, w http.ResponseWriter, r *http.Request, query url.Values,
	f *form, op *operation, t contentTarget, caller *auth.Caller) (call, error) {
	var c call
	var err error
	switch t.shape {
	case itemFiles, itemStorage:
		c, err = s.newItemCall(ctx, w, r, query, f, op, t.id, caller)
	case fileService:
		c, err = s.newCall(ctx, w, r, query, f, op, "", caller)
	default:
		c, err = s.newCall(ctx, w, r, query, f, op, t.id, caller)
		if err == nil && t.name != "" {
			if c.params == nil {
				c.params = map[string]string{}
			}
			c.params[paramFileName] = t.name
		}
	}
	c.origin = origin(r)
	return c, err
}

// newItemCall reads the input of a call on an item's files or storage, in the caller's
// namespace, where items live as sessions do, and checks that the caller may read the item.
func (s *Server) newItemCall(ctx context.Context, w http.ResponseWriter, r *http.Request, query url.Values,
	f *form, op *operation, item string, caller *auth.Caller) (call, error) {
	if err := checkIdentifier(paramLibraryItemID, item, true); err != nil {
		return call{}, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return call{}, err
	}
	c := call{caller: caller}
	if c.body, c.params, err = f.unwrap(op, body, query); err != nil {
		return call{}, err
	}
	return c, s.itemTarget(ctx, &c, op, item, query.Get("namespace"))
}

// itemTarget sets the item of c, a call of op on an item's files or storage, in the caller's
// namespace (or the one requested), where items live as sessions do, and checks that the
// caller may read the item. item was checked as an identifier (checkIdentifier).
func (s *Server) itemTarget(ctx context.Context, c *call, op *operation, item, requested string) (err error) {
	c.item = item
	if c.namespace, err = s.callerNamespace(c.caller, requested); err != nil {
		return err
	}
	return s.authorize(ctx, c.caller, op, c.namespace, item)
}

// origin is the scheme and host a request was sent to.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
