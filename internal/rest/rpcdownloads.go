package rest

import "github.com/contentlib/update-session-operator/internal/vapi/data"

// svcDownloadFiles is the download-session file service, as the bindings name it.
const svcDownloadFiles = "com.vmware.content.library.item.downloadsession.file"

// downloadSessionIDField is the input field naming a download session.
const downloadSessionIDField = "download_session_id"

// The types of the download services' inputs and results: com/vmware/content/library/item_client.py
// (DownloadSessionModel) and item/downloadsession_client.py (File.Info).
var (
	downloadSessionModelType = data.StructOf("com.vmware.content.library.item.download_session_model",
		data.F("id", data.OptionalOf(data.IDType)),
		data.F("library_item_id", data.OptionalOf(data.IDType)),
		data.F("library_item_content_version", data.OptionalOf(data.StringType)),
		data.F("error_message", data.OptionalOf(data.LocalizableMessage)),
		data.F("client_progress", data.OptionalOf(data.IntegerType)),
		data.F("state", data.OptionalOf(data.EnumType)),
		data.F("expiration_time", data.OptionalOf(data.DateTimeType)),
	)
	downloadFileInfoType = data.StructOf("com.vmware.content.library.item.downloadsession.file.info",
		data.F("name", data.StringType),
		data.F("size", data.OptionalOf(data.IntegerType)),
		data.F("bytes_transferred", data.IntegerType),
		data.F("status", data.EnumType),
		data.F("download_endpoint", data.OptionalOf(transferEndpointType)),
		data.F("checksum_info", data.OptionalOf(checksumInfoType)),
		data.F("error_message", data.OptionalOf(data.LocalizableMessage)),
	)
)

// onDownload is the input of an operation on one download session, with fields besides its id.
func onDownload(fields ...data.Field) *data.Type {
	return data.StructOf("operation-input", append([]data.Field{data.F(downloadSessionIDField, data.IDType)}, fields...)...)
}

// rpcDownloadOperations are the download-session service's operations on the JSON-RPC wire. Its
// keep_alive's progress is "progress", where the update session's is "client_progress".
var rpcDownloadOperations = []*rpcOperation{
	rpcOp(svcDownloadSession, "create", "download-session-create", data.StructOf("operation-input",
		data.F("client_token", data.OptionalOf(data.StringType)), data.F("create_spec", downloadSessionModelType)), data.IDType),
	rpcOp(svcDownloadSession, "list", "download-session-list", byItem, data.ListOf(data.IDType)),
	rpcOp(svcDownloadSession, "get", "download-session-get", onDownload(), downloadSessionModelType),
	rpcOp(svcDownloadSession, "keep_alive", "download-session-keep-alive",
		onDownload(data.F("progress", data.OptionalOf(data.IntegerType))), data.VoidType),
	rpcOp(svcDownloadSession, "cancel", "download-session-cancel", onDownload(), data.VoidType),
	rpcOp(svcDownloadSession, "fail", "download-session-fail",
		onDownload(data.F("client_error_message", data.StringType)), data.VoidType),
	rpcOp(svcDownloadSession, "delete", "download-session-delete", onDownload(), data.VoidType),
}

// rpcDownloadFileOperations are the download-session file service's operations on the JSON-RPC
// wire. Its calls carry the request's origin, where a download endpoint is advertised.
var rpcDownloadFileOperations = advertising(
	rpcOp(svcDownloadFiles, "list", "download-file-list", onDownload(), data.ListOf(downloadFileInfoType)),
	rpcOp(svcDownloadFiles, "get", "download-file-get", onDownload(data.F("file_name", data.StringType)),
		downloadFileInfoType),
	rpcOp(svcDownloadFiles, "prepare", "download-file-prepare", onDownload(data.F("file_name", data.StringType),
		data.F("endpoint_type", data.OptionalOf(data.EnumType))), downloadFileInfoType),
)
