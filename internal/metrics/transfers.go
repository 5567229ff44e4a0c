package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Labels of the transfer metrics: a transfer's source type (PUSH or PULL), and its result.
const (
	sourceLabel = "source"
	resultLabel = "result"
)

var (
	// TransferBytes counts the bytes transfers received, by source type, added at each of
	// their progress reports and at their end.
	TransferBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "updatesession_transfer_bytes_total",
		Help: "Bytes transfers received into the content store, by source type (PUSH or PULL), counted at each progress report.",
	}, []string{sourceLabel})

	// TransfersInFlight is the transfers running on this replica, by source type.
	TransfersInFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "updatesession_transfers_in_flight",
		Help: "Transfers running on this replica, by source type (PUSH or PULL).",
	}, []string{sourceLabel})

	// Transfers counts the transfers that ended, by source type and result (see the
	// Transfer* results).
	Transfers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "updatesession_transfers_total",
		Help: "Transfers ended, by source type and result: ready, or why not: mismatch (size or checksum), too_large, " +
			"no_space, cut (the bytes stopped coming), stopped (the replica shut down), lost (the file was taken from " +
			"the transfer) or store (the content store failed).",
	}, []string{sourceLabel, resultLabel})
)

// The download metrics.
var (
	// DownloadBytes counts the bytes the download endpoint served, as it reads them.
	DownloadBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "updatesession_download_bytes_total",
		Help: "Bytes the download endpoint served from the content store.",
	})

	// DownloadsInFlight is the downloads running on this replica.
	DownloadsInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "updatesession_downloads_in_flight",
		Help: "Downloads (GET or HEAD of a download endpoint) running on this replica.",
	})

	// Downloads counts the downloads that ended, by result (see the Download* results): those
	// that began to be answered, past authorization and the caps.
	Downloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "updatesession_downloads_total",
		Help: "Downloads ended, by result: complete (every byte asked was handed to the connection), or why not: " +
			"cut (the client went away or took nothing for the answer limit), lost (the session ended), stopped " +
			"(the replica shut down) or store (the content store failed).",
	}, []string{resultLabel})
)

// The results of Transfers.
const (
	TransferReady    = "ready"
	TransferMismatch = "mismatch"
	TransferTooLarge = "too_large"
	TransferNoSpace  = "no_space"
	TransferCut      = "cut"
	TransferStopped  = "stopped"
	TransferLost     = "lost"
	TransferStore    = "store"
)

// The results of Downloads.
const (
	DownloadComplete = "complete"
	DownloadCut      = "cut"
	DownloadLost     = "lost"
	DownloadStopped  = "stopped"
	DownloadStore    = "store"
)

// TransferSources are the source types of the transfer metrics.
var TransferSources = []string{"PUSH", "PULL"}

// init registers the transfer metrics, each known series at zero from the start.
func init() {
	ctrlmetrics.Registry.MustRegister(TransferBytes, TransfersInFlight, Transfers, DownloadBytes, DownloadsInFlight,
		Downloads)
	results := []string{TransferReady, TransferMismatch, TransferTooLarge, TransferNoSpace, TransferCut,
		TransferStopped, TransferLost, TransferStore}
	for _, source := range TransferSources {
		TransferBytes.WithLabelValues(source)
		TransfersInFlight.WithLabelValues(source)
		for _, result := range results {
			Transfers.WithLabelValues(source, result)
		}
	}
	for _, result := range []string{DownloadComplete, DownloadCut, DownloadLost, DownloadStopped, DownloadStore} {
		Downloads.WithLabelValues(result)
	}
}
