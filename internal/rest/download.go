package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"syscall"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/connwatch"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/download"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const msgDownloadFileGone = "com.vmware.content.library.item.downloadsession.File.not_found"

// downloadOp is the download endpoint as its metrics and authorization name it: with the
// caller's credentials instead of a capability it needs what a download session's get needs.
var downloadOp = newEndpointOp("download", verbGet, resourceDownloadSessions)

// downloads is the download endpoint as authorizeEndpoint sees it.
func (s *Server) downloads() endpoint[*v1alpha1.DownloadSession] {
	return endpoint[*v1alpha1.DownloadSession]{
		sessions: s.downloadFinder,
		op:       downloadOp,
		file: func(ds *v1alpha1.DownloadSession, tid string) (string, bool) {
			if f := download.FileByID(ds, tid); f != nil {
				return f.Name, true
			}
			return "", false
		},
		noFile: func(ds *v1alpha1.DownloadSession) error {
			return vapi.Errorf(vapi.NotFound, msgDownloadFileGone,
				"Download session %s has no file prepared with this download URI; prepare the file and use the "+
					"download_endpoint that answers.", ds.Status.ID)
		},
		invalid: "The download URI is not valid: it names no prepared file of a live download session, or its " +
			"capability is wrong. Use the download_endpoint the file's prepare answered, or send your credentials.",
	}
}

// serveDownload serves the bytes of one prepared file of a download session, GET or HEAD,
// through http.ServeContent: Content-Length, Range (206, several ranges, resuming after a
// cut), If-Range and conditional requests against its ETag (the file's checksum) and
// Last-Modified (when its content version was committed). The bytes are those of the content
// version the session pinned, read from the store as they are sent; any number of requests
// may read one file at once, within the replica's cap on transfers.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	s.serveEndpoint(w, r, downloadOp, func() error { return s.download(w, r) })
}

// download authorizes a download, finds the file's bytes and serves them.
func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	sid, tid, capability, err := s.endpointRequest(r)
	if err != nil {
		return err
	}
	ctx, cancel := newCallContext(r, requestTimeout)
	defer cancel()
	ds, name, err := authorizeEndpoint(ctx, s, r, s.downloads(), sid, tid, capability)
	if err != nil {
		return err
	}
	if err := download.Servable(ds, download.FileByID(ds, tid)); err != nil {
		return err
	}
	body, stop := context.WithCancelCause(r.Context())
	defer stop(nil)
	end, err := s.beginTransfer(ds, name, true, stop)
	if err != nil {
		return err
	}
	defer end()
	f, leave, err := s.flows.join(ctx, s, ds, stop)
	if err != nil {
		return err
	}
	defer leave()
	rec, file, err := f.pinnedFile(ctx, s.Content, ds, name)
	if err != nil {
		return err
	}
	return s.serveFile(body, w, r, f, rec, file)
}

// serveFile serves file of rec, reading its bytes with ctx, through http.ServeContent, and
// counts how the download ended: an answer cut short is an error of its call too (see
// downloadEnd).
func (s *Server) serveFile(ctx context.Context, w http.ResponseWriter, r *http.Request, f *flow, rec content.Record,
	file content.File) error {
	metrics.DownloadsInFlight.Inc()
	defer metrics.DownloadsInFlight.Dec()
	served := &servedReader{storeReader: s.Content.NewReader(ctx, file.Key, file.Size), flow: f, name: file.Name,
		flowing: connwatch.Flowing(r.Context())}
	defer func() { _ = served.Close() }()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream") // set, so that ServeContent does not read to sniff one
	if file.Checksum.Value != "" {
		h.Set("ETag", `"`+file.Checksum.Algorithm+":"+file.Checksum.Value+`"`)
	}
	sent := &sentWriter{ResponseWriter: w}
	http.ServeContent(sent, r, "", rec.Committed, served)
	result, err := downloadEnd(served.err.get(), sent.err.get())
	metrics.Downloads.WithLabelValues(result).Inc()
	if result == metrics.DownloadStore {
		s.Log.Error(served.err.get(), "Reading a file's bytes to download them", "session", f.ds.Name, "file", file.Name)
	}
	return err
}

// downloadEnd says how a download ended, from the first error of reading its bytes and of
// sending them (which is the read's, when a read failed the copy): the result its metrics
// count, and nil or the error of its call. A download cut short had its answer begun: its
// error is no answer (see answerCut), but its call counts as an upload cut the same way does.
func downloadEnd(read, sent error) (string, error) {
	switch {
	case read == nil && sent == nil:
		return metrics.DownloadComplete, nil
	case errors.Is(read, errDownloadLost):
		return metrics.DownloadLost, &answerCut{errDownloadLost.Type, read}
	case errors.Is(read, errShuttingDown):
		return metrics.DownloadStopped, &answerCut{vapi.ServiceUnavailable, read}
	case read == nil:
		return metrics.DownloadCut, &answerCut{vapi.InvalidRequest, sent}
	case errors.Is(read, context.Canceled) || errors.Is(read, context.DeadlineExceeded):
		// The client went away: its request's context ends with it.
		return metrics.DownloadCut, &answerCut{vapi.InvalidRequest, read}
	}
	return metrics.DownloadStore, &answerCut{vapi.ServiceUnavailable, read}
}

// pinnedFile returns the record of the content version ds reads, and its file name. The
// record is read once a flow: a content version never changes.
func (f *flow) pinnedFile(ctx context.Context, st *content.Store, ds *v1alpha1.DownloadSession, name string) (
	content.Record, content.File, error) {
	rec, err := f.pinned(ctx, st, ds)
	if err != nil {
		e := vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot read the content of library item %s now: %v.",
			ds.Spec.LibraryItemID, err)
		e.RetryAfter = retryAfter
		return content.Record{}, content.File{}, e
	}
	for _, file := range rec.Files {
		if file.Name == name {
			return rec, file, nil
		}
	}
	return content.Record{}, content.File{}, vapi.Errorf(vapi.NotFound, msgDownloadFileGone,
		"Content version %d of library item %s, which download session %s reads, has no file %q.",
		ds.Status.ContentVersion, ds.Spec.LibraryItemID, ds.Status.ID, name)
}

// pinned reads the record of the content version ds, f's session, reads, once; a version not
// kept is a record without files.
func (f *flow) pinned(ctx context.Context, st *content.Store, ds *v1alpha1.DownloadSession) (content.Record, error) {
	f.recordMu.Lock()
	defer f.recordMu.Unlock()
	if f.record != nil {
		return *f.record, nil
	}
	rec, err := st.Version(ctx, ds.Namespace, ds.Spec.LibraryItemID, ds.Status.ContentVersion)
	switch {
	case errors.Is(err, content.ErrNotExist):
		rec = content.Record{}
	case err != nil:
		return rec, err
	}
	f.record = &rec
	return rec, nil
}

// storeReader is what a download reads its bytes with: a *content.Reader.
type storeReader interface {
	io.ReadSeekCloser
	Offset() int64
	File() *os.File
	Sync() int64
}

// errReaderClosed answers a read of a download whose answer has ended.
var errReaderClosed = errors.New("the download's answer has ended")

// servedReader is a download's Reader that tells, at each read, how far the file has been
// served (its flow's progress) and that the answer still flows (the connection watch), and
// keeps the first error of its reads.
//
// http.ServeContent reads an answer of several ranges in a goroutine of its own, which may still
// be in a Read when ServeContent has returned for a client gone, and a content.Reader is not
// safe for concurrent use: Close during a Read or Seek leaves the closing to it.
type servedReader struct {
	storeReader
	flow    *flow
	name    string
	flowing func()
	err     firstError

	mu           sync.Mutex
	busy, closed bool
}

func (r *servedReader) Read(p []byte) (int, error) {
	if !r.acquire() {
		return 0, errReaderClosed
	}
	defer r.release()
	n, err := r.storeReader.Read(p)
	if n > 0 {
		r.flow.served(r.name, r.Offset(), n)
		r.flowing()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		r.err.set(err)
	}
	return n, err
}

// Seek moves the offset of the next Read, unless the answer has ended.
func (r *servedReader) Seek(offset int64, whence int) (int64, error) {
	if !r.acquire() {
		return 0, errReaderClosed
	}
	defer r.release()
	return r.storeReader.Seek(offset, whence)
}

// Close closes the store's reader, at once or, when a Read or Seek is under way, as it ends.
func (r *servedReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.busy {
		return nil
	}
	return r.storeReader.Close()
}

// acquire marks the reader in use, unless it was closed.
func (r *servedReader) acquire() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy = !r.closed
	return r.busy
}

// release ends a use, closing the store's reader if Close came meanwhile.
func (r *servedReader) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy = false
	if r.closed {
		_ = r.storeReader.Close()
	}
}

// errNotAFile refuses net's sendfile a download whose bytes are not in a file: net then copies
// them through Read.
var errNotAFile = errors.New("the content store keeps no file of this object")

// SyscallConn hands the connection the file that holds the bytes, when the store keeps them in
// files, so that it sends them with sendfile, never copying them through the manager: net's
// sendfile takes any syscall.Conn under the io.LimitedReader that http.ServeContent copies from.
func (r *servedReader) SyscallConn() (syscall.RawConn, error) {
	f := r.File()
	if f == nil {
		return nil, errNotAFile
	}
	return f.SyscallConn()
}

// Sent counts the bytes the connection sent from the file since the last call, as Read counts
// its own: the connection calls it between the chunks it sends (connwatch).
func (r *servedReader) Sent() {
	if n := r.Sync(); n > 0 {
		r.flow.served(r.name, r.Offset(), int(n))
		r.flowing()
	}
}

// sentWriter is a download's ResponseWriter that keeps the first error of sending its answer,
// and hands a body to the connection's ReadFrom (sendfile) as the writer under it does.
type sentWriter struct {
	http.ResponseWriter
	err firstError
}

func (w *sentWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.err.set(err)
	return n, err
}

// ReadFrom hands src to the writer under it as it is, so that the connection finds the file
// under it (sendfile). Its error may be a read's, which the servedReader keeps too.
func (w *sentWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{w}, src)
	}
	n, err := rf.ReadFrom(src)
	w.err.set(err)
	return n, err
}

// Unwrap returns the writer under it, for http.ResponseController.
func (w *sentWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// firstError keeps the first error set, for whoever reads it once the answer is written: the
// parts of a multipart answer are read in a goroutine of their own.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (e *firstError) set(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

func (e *firstError) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}
