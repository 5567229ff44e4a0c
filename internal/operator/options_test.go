package operator

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/clock"

	"github.com/contentlib/update-session-operator/internal/session"
)

// flagOptions are the Options the manager's flags set from args.
func flagOptions(t *testing.T, args ...string) Options {
	t.Helper()
	var o Options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		args []string
		// wantErr is the flag the error names; empty: valid.
		wantErr string
	}{
		{name: "the flags' defaults are valid"},
		{name: "a session timeout of 24h, the longest the CRD allows, is valid", args: []string{"--session-timeout=24h"}},
		{name: "a session timeout of 1s is valid", args: []string{"--session-timeout=1s"}},
		{name: "a session timeout past 24h is refused: every status write would be", args: []string{"--session-timeout=24h0m1s"},
			wantErr: "--session-timeout"},
		{name: "a session timeout of 0 is refused", args: []string{"--session-timeout=0s"}, wantErr: "--session-timeout"},
		{name: "no coalescing window is valid", args: []string{"--keepalive-coalesce-window=0"}},
		{name: "a negative coalescing window is refused", args: []string{"--keepalive-coalesce-window=-1s"},
			wantErr: "--keepalive-coalesce-window"},
		{name: "a negative safety margin is refused", args: []string{"--expiry-safety-margin=-1ms"}, wantErr: "--expiry-safety-margin"},
		{name: "no terminal retention is valid", args: []string{"--terminal-retention=0"}},
		{name: "a negative terminal retention is refused", args: []string{"--terminal-retention=-1s"}, wantErr: "--terminal-retention"},
		{name: "no token reviews a second is refused", args: []string{"--rest-token-review-qps=0"}, wantErr: "--rest-token-review-qps"},
		{name: "no token reviews in flight is refused", args: []string{"--rest-token-review-concurrency=0"},
			wantErr: "--rest-token-review-concurrency"},
		{name: "no connections per source is refused", args: []string{"--rest-max-connections-per-source=0"},
			wantErr: "--rest-max-connections-per-source"},
		{name: "no requests in flight is refused", args: []string{"--rest-max-requests-in-flight=0"},
			wantErr: "--rest-max-requests-in-flight"},
		{name: "no logins per identity is refused", args: []string{"--rest-login-max-per-identity=0"},
			wantErr: "--rest-login-max-per-identity"},
		{name: "no API-server reads a second is refused", args: []string{"--rest-read-qps=0"}, wantErr: "--rest-read-qps"},
		{name: "no burst of API-server reads is refused", args: []string{"--rest-read-burst=0"}, wantErr: "--rest-read-burst"},
		{name: "a negative shutdown delay is refused", args: []string{"--rest-shutdown-delay=-1s"}, wantErr: "--rest-shutdown-delay"},
		{name: "no reconciles in parallel is refused", args: []string{"--max-concurrent-reconciles=0"},
			wantErr: "--max-concurrent-reconciles"},
		{name: "the REST server disabled is valid", args: []string{"--rest-bind-address=0"}},
		{name: "256 files per session, as many as the CRD holds, is valid", args: []string{"--content-max-files-per-session=256"}},
		{name: "257 files per session is refused: the status could not hold them",
			args: []string{"--content-max-files-per-session=257"}, wantErr: "--content-max-files-per-session"},
		{name: "no files per session is refused", args: []string{"--content-max-files-per-session=0"},
			wantErr: "--content-max-files-per-session"},
		{name: "files of no bytes are refused", args: []string{"--content-max-file-bytes=0"}, wantErr: "--content-max-file-bytes"},
		{name: "logins off are valid", args: []string{"--rest-login-sessions=false"}},
		{name: "files of no bytes at most are refused", args: []string{"--content-max-file-bytes=0"}, wantErr: "--content-max-file-bytes"},
		{name: "no transfers at once are refused", args: []string{"--content-max-transfers=0"}, wantErr: "--content-max-transfers"},
		{name: "no progress interval is refused", args: []string{"--transfer-progress-interval=0"},
			wantErr: "--transfer-progress-interval"},
		{name: "an advertised URL with a path prefix is valid", args: []string{"--rest-advertise-url=https://cl.example.com/vapi"}},
		{name: "an advertised URL without a scheme is refused", args: []string{"--rest-advertise-url=cl.example.com"},
			wantErr: "--rest-advertise-url"},
		{name: "an advertised URL with a query is refused", args: []string{"--rest-advertise-url=https://cl.example.com/?x=1"},
			wantErr: "--rest-advertise-url"},
		{name: "no collector grace is refused", args: []string{"--content-collect-grace=0"}, wantErr: "--content-collect-grace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := flagOptions(t, tc.args...)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want valid", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	flags := flagOptions(t)
	cases := []struct {
		name string
		set  Options
		want func(*Options)
	}{
		{name: "Options set in code only where zero disables something run as the flags' defaults do",
			set: Options{RESTAddr: flags.RESTAddr, Policy: flags.Policy, LoginSessions: true},
			want: func(o *Options) {
				*o = flagOptions(t)
				o.LoginNamespace, o.TransferKeyNamespace, o.Clock = podNamespace(), podNamespace(), clock.RealClock{}
			}},
		{name: "zero retention, coalescing and margin stay zero: they mean none",
			set:  Options{Policy: session.Policy{DefaultTimeout: time.Hour}},
			want: func(o *Options) { o.Policy = session.Policy{DefaultTimeout: time.Hour} }},
		{name: "a REST address of 0 disables the REST server, as 0 does the manager's other listeners",
			set:  Options{RESTAddr: "0"},
			want: func(o *Options) { o.RESTAddr = "" }},
		{name: "logins off keep no namespace",
			set:  Options{LoginSessions: false},
			want: func(o *Options) { o.LoginSessions, o.LoginNamespace = false, "" }},
		{name: "a login namespace set is kept",
			set:  Options{LoginSessions: true, LoginNamespace: "logins"},
			want: func(o *Options) { o.LoginSessions, o.LoginNamespace, o.TransferKeyNamespace = true, "logins", "logins" }},
		{name: "the transfer key is kept where logins are, unless set",
			set:  Options{LoginSessions: true, LoginNamespace: "logins", TransferKeyNamespace: "keys"},
			want: func(o *Options) { o.LoginSessions, o.LoginNamespace, o.TransferKeyNamespace = true, "logins", "keys" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.set
			got.Default()
			if err := got.Validate(); err != nil {
				t.Errorf("Validate() after Default() = %v", err)
			}
			// want: the zero Options defaulted, then changed by tc.want.
			var want Options
			want.Default()
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Default() (-want +got):\n%s", diff)
			}
		})
	}
}
