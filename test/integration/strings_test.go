package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/session"
)

// TestUnprintableIdentifiersAreRefused: identifiers a client sends with control characters,
// or longer than the spec holds, are refused with INVALID_ARGUMENT naming the field, in both
// URL forms, and nothing is created.
func TestUnprintableIdentifiersAreRefused(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	type request struct{ method, url, body string }
	cases := []struct {
		name      string
		req       func(f urlForm) request
		wantField string
	}{
		{"create with a bell in library_item_id", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_id": "item\u0007"}`)}
		}, "library_item_id must be printable"},
		{"create with a right-to-left override in library_item_id", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_id": "a\u202Egpj.exe"}`)}
		}, "library_item_id must be printable"},
		{"create with a newline in library_item_content_version", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_id": "i", "library_item_content_version": "1\n2"}`)}
		}, "library_item_content_version must be printable"},
		{"create with an escape sequence in client_token", func(f urlForm) request {
			if f.wrapped {
				return request{"POST", f.collection(srv), `{"client_token": "\u001b[2J", "create_spec": {"library_item_id": "i"}}`}
			}
			return request{"POST", f.collection(srv) + "?client_token=%1B%5B2J", `{"library_item_id": "i"}`}
		}, "client_token must be printable"},
		{"create with a client_token of 8 KiB", func(f urlForm) request {
			token := strings.Repeat(".", 8<<10)
			if f.wrapped {
				return request{"POST", f.collection(srv), `{"client_token": "` + token + `", "create_spec": {"library_item_id": "i"}}`}
			}
			return request{"POST", f.collection(srv) + "?client_token=" + token, `{"library_item_id": "i"}`}
		}, "client_token must be at most 255 characters"},
		{"list with a bell in library_item_id", func(f urlForm) request {
			return request{"GET", f.collection(srv) + "?library_item_id=a%07b", ""}
		}, "library_item_id must be printable"},
	}
	for _, tc := range cases {
		for _, f := range forms {
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				before := snapshot(t, ns)
				r := tc.req(f)
				resp := do(t, r.method, r.url, r.body)
				refused(t, resp, http.StatusBadRequest, "INVALID_ARGUMENT")
				if msg := errorMessage(t, resp); !strings.Contains(msg, tc.wantField) {
					t.Errorf("message %q does not say %q", msg, tc.wantField)
				}
				if after := snapshot(t, ns); after != before {
					t.Fatalf("a refused call changed sessions: %s -> %s", before, after)
				}
			})
		}
	}
}

// TestFailMessageIsStoredPrintableAndBounded: a fail whose message is 10 KiB of text with
// control characters succeeds, and what reaches status.errorMessage, the Failed condition and
// the REST model is printable and within session.MaxMessageBytes.
func TestFailMessageIsStoredPrintableAndBounded(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	raw := "upload failed:\n\tdisk \x1b[31mfull\x1b[0m\u202E" + strings.Repeat("x\a\r\n", 10<<10/4)
	body, err := json.Marshal(map[string]string{"client_error_message": raw})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			id := f.create(t, srv, `{"library_item_id": "garbled-`+f.name+`"}`)
			f.ok(t, do(t, http.MethodPost, f.action(srv, id, "fail"), string(body)))

			us := byID(t, ns, id)
			const wantStart = "upload failed:  disk \uFFFD[31mfull\uFFFD[0m\uFFFDx\uFFFD  x"
			checkCleanMessage(t, "status.errorMessage", us.Status.ErrorMessage, wantStart)
			c := meta.FindStatusCondition(us.Status.Conditions, v1alpha1.ConditionActive)
			if c == nil || c.Reason != v1alpha1.ReasonFailed {
				t.Fatalf("Active condition %+v, want reason %s", c, v1alpha1.ReasonFailed)
			}
			if at, r, found := session.FindUnprintable(c.Message); found {
				t.Errorf("condition message holds %U at byte %d", r, at)
			}
			var m model
			f.result(t, do(t, http.MethodGet, f.item(srv, id), ""), http.StatusOK, &m)
			if m.ErrorMessage == nil || m.ErrorMessage.DefaultMessage != us.Status.ErrorMessage {
				t.Fatalf("REST error_message %+v, want the stored %q", m.ErrorMessage, us.Status.ErrorMessage)
			}
		})
	}
}

// checkCleanMessage fails unless msg is printable UTF-8 within session.MaxMessageBytes that
// starts with wantStart and ends with the mark of a cut.
func checkCleanMessage(t *testing.T, what, msg, wantStart string) {
	t.Helper()
	if len(msg) > session.MaxMessageBytes || !utf8.ValidString(msg) {
		t.Errorf("%s: %d bytes (valid UTF-8: %v), want at most %d", what, len(msg), utf8.ValidString(msg), session.MaxMessageBytes)
	}
	if at, r, found := session.FindUnprintable(msg); found {
		t.Errorf("%s holds %U at byte %d", what, r, at)
	}
	if !strings.HasPrefix(msg, wantStart) || !strings.HasSuffix(msg, "…") {
		t.Errorf("%s = %q..., want it to start with %q and end with …", what, msg[:min(len(msg), 80)], wantStart)
	}
}

// vapiMessages is the messages member of a vAPI error body.
type vapiMessages struct {
	Messages []struct {
		DefaultMessage string `json:"default_message"`
	} `json:"messages"`
}

// errorMessage returns the first default_message of an error response in either form: the
// /api form's body holds the messages, the /rest form's its value.
func errorMessage(t *testing.T, r response) string {
	t.Helper()
	var body struct {
		vapiMessages
		Value vapiMessages `json:"value"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body is not JSON: %s", r.body)
	}
	for _, m := range []vapiMessages{body.vapiMessages, body.Value} {
		if len(m.Messages) > 0 {
			return m.Messages[0].DefaultMessage
		}
	}
	t.Fatalf("no message in %s", r.body)
	return ""
}
