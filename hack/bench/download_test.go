package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSplitRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		n    int
		want []byteRange
	}{
		{"one reader reads the whole file", 10, 1, []byteRange{{0, 10}}},
		{"an even split gives equal parts", 12, 4, []byteRange{{0, 3}, {3, 3}, {6, 3}, {9, 3}}},
		{"the last part takes the remainder", 11, 4, []byteRange{{0, 2}, {2, 2}, {4, 2}, {6, 5}}},
		{"1 GiB in 16 gives 64 MiB parts", 1 << 30, 16, func() []byteRange {
			var parts []byteRange
			for i := range int64(16) {
				parts = append(parts, byteRange{i << 26, 1 << 26})
			}
			return parts
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitRanges(tc.size, tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("splitRanges(%d, %d) = %v, want %v", tc.size, tc.n, got, tc.want)
			}
		})
	}
}

func TestPayloadAtIsThePayloadFromThatOffset(t *testing.T) {
	whole, _ := io.ReadAll(newPayload(3 * int64(len(block))))
	for _, off := range []int64{0, 1, int64(len(block)) - 7, int64(len(block)) + 99} {
		got, _ := io.ReadAll(newPayloadAt(off, 1<<20))
		if !bytes.Equal(got, whole[off:off+1<<20]) {
			t.Errorf("newPayloadAt(%d) differs from the payload's bytes there", off)
		}
	}
}

// anchorOf serves size bytes of the payload from a file with the download anchor's handler.
func anchorOf(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeHashed(dir, "f", newPayload(size), false); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fileHandler(filepath.Join(dir, "f")))
	t.Cleanup(srv.Close)
	return srv.URL + "/f"
}

// An odd size: neither the payload's block nor 16 parts divide it.
const testFileSize = 5<<20 + 12345

func TestTheAnchorServesTheFileWholeAndInRanges(t *testing.T) {
	uri := anchorOf(t, testFileSize)
	if err := checkDownload(context.Background(), http.DefaultClient, uri, testFileSize, payloadSum(testFileSize)); err != nil {
		t.Fatal(err)
	}
	for _, readers := range []int{1, 16} {
		if _, err := downloadOnce(context.Background(), http.DefaultClient, uri, testFileSize, readers); err != nil {
			t.Errorf("%d readers: %v", readers, err)
		}
	}
}

func TestCheckDownloadRefusesOtherBytes(t *testing.T) {
	uri := anchorOf(t, testFileSize)
	other := payloadSum(testFileSize - 1)
	if err := checkDownload(context.Background(), http.DefaultClient, uri, testFileSize, other); err == nil {
		t.Fatal("checkDownload accepted a file whose SHA-256 is not the one promised")
	}
}

func TestFetchRefusesAnAnswerThatIsNotThePart(t *testing.T) {
	data, _ := io.ReadAll(newPayload(1000))
	part := byteRange{offset: 100, length: 200}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"a Range request answered 200 with the whole file", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(data)
		}},
		{"a 206 of another part", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-199/1000")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(data[:200])
		}},
		{"a 206 of the part cut short", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Range", "bytes 100-299/1000")
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(data[100:150])
		}},
		{"an error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"error_type":"NOT_FOUND"}`, http.StatusNotFound)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			if err := fetch(context.Background(), srv.Client(), srv.URL, part, true, io.Discard); err == nil {
				t.Error("fetch accepted it")
			}
		})
	}
	t.Run("the part itself is accepted", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(data))
		}))
		defer srv.Close()
		h := sha256.New()
		if err := fetch(context.Background(), srv.Client(), srv.URL, part, true, h); err != nil {
			t.Fatal(err)
		}
		if want := sha256.Sum256(data[100:300]); hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(want[:]) {
			t.Error("fetch wrote other bytes than the part's")
		}
	})
}

func TestDownloadTargets(t *testing.T) {
	// figures is a run where the operator read the file in op and the anchor in anchor, with both
	// loads alike, and the manager grew by growth MiB.
	figures := func(op, anchor time.Duration, growth float64) *downloadFigures {
		f := &downloadFigures{rssBase: 50, rssPeak: 50 + growth}
		for _, readers := range downloadReaders {
			f.results = append(f.results,
				downloadResult{mode: modeDownloadOperator, size: downloadSize, readers: readers, took: op},
				downloadResult{mode: modeDownloadAnchor, size: downloadSize, readers: readers, took: anchor},
				downloadResult{mode: modeDownloadOperatorTLS, size: downloadSize, readers: readers, took: op},
				downloadResult{mode: modeDownloadAnchorTLS, size: downloadSize, readers: readers, took: anchor})
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		f      *downloadFigures
		ratios string
		met    []bool
	}{
		{"as fast as the anchor meets all", figures(time.Second, time.Second, 0), "1.00x", []bool{true, true, true, true, true}},
		{"exactly 0.8x the anchor meets", figures(1250*time.Millisecond, time.Second, 64), "0.80x", []bool{true, true, true, true, true}},
		{"under 0.8x the anchor misses, and memory growing past 64 MiB too",
			figures(1300*time.Millisecond, time.Second, 65), "0.77x", []bool{false, false, false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := tc.f.targets()
			var met []bool
			for _, r := range rows {
				met = append(met, r.met)
			}
			if !slices.Equal(met, tc.met) {
				t.Errorf("met = %v, want %v", met, tc.met)
			}
			for _, r := range rows[:2*len(downloadReaders)] {
				if r.ratio != tc.ratios {
					t.Errorf("%s: ratio %s, want %s", r.name, r.ratio, tc.ratios)
				}
			}
			if last := rows[len(rows)-1]; !strings.HasPrefix(last.measured, fmt.Sprintf("%.0f MiB", tc.f.rssPeak-tc.f.rssBase)) {
				t.Errorf("RSS row measured %q", last.measured)
			}
		})
	}
	plainOnly := figures(time.Second, time.Second, 0)
	plainOnly.results = slices.DeleteFunc(plainOnly.results, func(r downloadResult) bool {
		return r.mode == modeDownloadOperatorTLS || r.mode == modeDownloadAnchorTLS
	})
	if rows := plainOnly.targets(); len(rows) != len(downloadReaders)+1 {
		t.Errorf("a run without the TLS pass: %d rows, want the plain ones and memory", len(rows))
	}
	if rows := (*downloadFigures)(nil).targets(); rows != nil {
		t.Errorf("a run without the download phase has download rows: %v", rows)
	}
}
