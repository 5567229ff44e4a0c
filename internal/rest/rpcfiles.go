package rest

import "github.com/contentlib/update-session-operator/internal/vapi/data"

// svcSessionFiles is the update-session file service, as the bindings name it.
const svcSessionFiles = "com.vmware.content.library.item.updatesession.file"

// The types of the file service's inputs and results: com/vmware/content/library/item_client.py
// and item/updatesession_client.py. TransferEndpoint's ssl_certificate, which newer bindings
// than 4.2.0 have, travels unset unless the server has one to tell.
var (
	transferEndpointType = data.StructOf("com.vmware.content.library.item.transfer_endpoint",
		data.F("uri", data.StringType),
		data.F("ssl_certificate_thumbprint", data.OptionalOf(data.StringType)),
		data.F("ssl_certificate", data.OptionalOf(data.StringType)),
	)
	checksumInfoType = data.StructOf("com.vmware.content.library.item.file.checksum_info",
		data.F("algorithm", data.OptionalOf(data.EnumType)),
		data.F("checksum", data.StringType),
	)
	addSpecType = data.StructOf("com.vmware.content.library.item.updatesession.file.add_spec",
		data.F("name", data.StringType),
		data.F("source_type", data.EnumType),
		data.F("source_endpoint", data.OptionalOf(transferEndpointType)),
		data.F("size", data.OptionalOf(data.IntegerType)),
		data.F("checksum_info", data.OptionalOf(checksumInfoType)),
	)
	fileInfoType = data.StructOf("com.vmware.content.library.item.updatesession.file.info",
		data.F("name", data.StringType),
		data.F("source_type", data.EnumType),
		data.F("size", data.OptionalOf(data.IntegerType)),
		data.F("checksum_info", data.OptionalOf(checksumInfoType)),
		data.F("source_endpoint", data.OptionalOf(transferEndpointType)),
		data.F("upload_endpoint", data.OptionalOf(transferEndpointType)),
		data.F("bytes_transferred", data.IntegerType),
		data.F("status", data.EnumType),
		data.F("error_message", data.OptionalOf(data.LocalizableMessage)),
		data.F("keep_in_storage", data.OptionalOf(data.BooleanType)),
	)
	validationResultType = data.StructOf("com.vmware.content.library.item.updatesession.file.validation_result",
		data.F("has_errors", data.BooleanType),
		data.F("missing_files", data.ListOf(data.StringType)), // a set travels as a list
		data.F("invalid_files", data.ListOf(data.StructOf(
			"com.vmware.content.library.item.updatesession.file.validation_error",
			data.F("name", data.StringType), data.F("error_message", data.LocalizableMessage)))),
	)
)

// rpcFileOperations are the update-session file service's operations on the JSON-RPC wire.
// Its calls carry the request's origin, where an upload endpoint is advertised.
var rpcFileOperations = advertising(
	rpcOp(svcSessionFiles, "add", "file-add", onSession(data.F("file_spec", addSpecType)), fileInfoType),
	rpcOp(svcSessionFiles, "list", "file-list", onSession(), data.ListOf(fileInfoType)),
	rpcOp(svcSessionFiles, "get", "file-get", onSession(data.F("file_name", data.StringType)), fileInfoType),
	rpcOp(svcSessionFiles, "remove", "file-remove", onSession(data.F("file_name", data.StringType)), data.VoidType),
	rpcOp(svcSessionFiles, "validate", "file-validate", onSession(), validationResultType),
)
