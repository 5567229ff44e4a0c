package rest

import (
	"net/http"

	"github.com/contentlib/update-session-operator/internal/vapi/data"
)

// rpcMethod names an operation as the vAPI JSON-RPC wire calls it: a service id and an
// operation id.
type rpcMethod struct {
	service, operation string
}

// rpcOperation is an operation of the table (operations, fixedOperations) as the JSON-RPC wire
// calls it, with the bindings' descriptions of its input and result.
type rpcOperation struct {
	op *operation
	// input is the operation's input structure ("operation-input"); output its result.
	input, output *data.Type
	// id is the input field that names the session; empty on the collection.
	id string
	// fixed: op is one of fixedOperations, which run on the caller alone (login, say).
	fixed bool
}

// The services of the JSON-RPC wire, as the bindings name them (iface_name).
const (
	svcSession         = "com.vmware.cis.session"
	svcUpdateSession   = "com.vmware.content.library.item.update_session"
	svcDownloadSession = "com.vmware.content.library.item.download_session"
)

// The types of the bindings that the operations' inputs and results hold: com/vmware/cis_client.py,
// com/vmware/content/library/item_client.py and item/updatesession_client.py.
var (
	noInput         = data.StructOf("operation-input")
	sessionInfoType = data.StructOf("com.vmware.cis.session.info",
		data.F("user", data.StringType),
		data.F("created_time", data.DateTimeType),
		data.F("last_accessed_time", data.DateTimeType),
	)
	warningBehaviorType = data.StructOf("com.vmware.content.library.item.updatesession.warning_behavior",
		data.F("type", data.EnumType),
		data.F("ignored", data.BooleanType),
	)
	// sessionModelType is UpdateSessionModel. Its preview_info, which this server never sets and
	// create and update ignore, is taken as any value.
	sessionModelType = data.StructOf("com.vmware.content.library.item.update_session_model",
		data.F("id", data.OptionalOf(data.IDType)),
		data.F("library_item_id", data.OptionalOf(data.IDType)),
		data.F("library_item_content_version", data.OptionalOf(data.StringType)),
		data.F("error_message", data.OptionalOf(data.LocalizableMessage)),
		data.F("client_progress", data.OptionalOf(data.IntegerType)),
		data.F("state", data.OptionalOf(data.EnumType)),
		data.F("expiration_time", data.OptionalOf(data.DateTimeType)),
		data.F("preview_info", data.OptionalOf(data.DynamicType)),
		data.F("warning_behavior", data.OptionalOf(data.ListOf(warningBehaviorType))),
	)
)

// sessionIDField is the input field naming an update session.
const sessionIDField = "update_session_id"

// onSession is the input of an operation on one update session, with fields besides its id.
func onSession(fields ...data.Field) *data.Type {
	return data.StructOf("operation-input", append([]data.Field{data.F(sessionIDField, data.IDType)}, fields...)...)
}

// rpcOperations are the operations the JSON-RPC wire serves, each an entry of the operation
// table that the REST forms serve too.
var rpcOperations = map[rpcMethod]*rpcOperation{
	{svcSession, "create"}: {op: fixedOperations[fixedRoute{http.MethodPost, apiSessionPath, ""}], fixed: true,
		input: noInput, output: data.SecretType},
	{svcSession, "get"}: {op: fixedOperations[fixedRoute{http.MethodGet, apiSessionPath, ""}], fixed: true,
		input: noInput, output: sessionInfoType},
	{svcSession, "delete"}: {op: fixedOperations[fixedRoute{http.MethodDelete, apiSessionPath, ""}], fixed: true,
		input: noInput, output: data.VoidType},
	{svcDownloadSession, "list"}: {op: fixedOperations[fixedRoute{http.MethodGet, apiDownloadSessionPath, ""}],
		fixed: true, output: data.ListOf(data.IDType),
		input: data.StructOf("operation-input", data.F("library_item_id", data.OptionalOf(data.IDType)))},

	{svcUpdateSession, "create"}: {op: operations[route{http.MethodPost, false, ""}], output: data.IDType,
		input: data.StructOf("operation-input",
			data.F("client_token", data.OptionalOf(data.StringType)), data.F("create_spec", sessionModelType))},
	{svcUpdateSession, "list"}: {op: operations[route{http.MethodGet, false, ""}], output: data.ListOf(data.IDType),
		input: data.StructOf("operation-input", data.F("library_item_id", data.OptionalOf(data.IDType)))},
	{svcUpdateSession, "get"}: {op: operations[route{http.MethodGet, true, ""}], id: sessionIDField,
		input: onSession(), output: sessionModelType},
	{svcUpdateSession, "update"}: {op: operations[route{http.MethodPatch, true, ""}], id: sessionIDField,
		input: onSession(data.F("update_spec", sessionModelType)), output: data.VoidType},
	{svcUpdateSession, "delete"}: {op: operations[route{http.MethodDelete, true, ""}], id: sessionIDField,
		input: onSession(), output: data.VoidType},
	{svcUpdateSession, "complete"}: {op: operations[route{http.MethodPost, true, "complete"}], id: sessionIDField,
		input: onSession(), output: data.VoidType},
	{svcUpdateSession, "cancel"}: {op: operations[route{http.MethodPost, true, "cancel"}], id: sessionIDField,
		input: onSession(), output: data.VoidType},
	{svcUpdateSession, "fail"}: {op: operations[route{http.MethodPost, true, "fail"}], id: sessionIDField,
		input: onSession(data.F("client_error_message", data.StringType)), output: data.VoidType},
	{svcUpdateSession, "keep_alive"}: {op: operations[route{http.MethodPost, true, "keep-alive"}], id: sessionIDField,
		input: onSession(data.F("client_progress", data.OptionalOf(data.IntegerType))), output: data.VoidType},
}
