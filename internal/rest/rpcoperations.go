package rest

import (
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
	method rpcMethod
	op     *operation
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

// rpcOperations are the operations the JSON-RPC wire serves, each an operation of the table that
// the REST forms serve too, found by its name.
var rpcOperations = rpcTable(
	rpcOp(svcSession, "create", opLogin, noInput, data.SecretType),
	rpcOp(svcSession, "get", "session-get", noInput, sessionInfoType),
	rpcOp(svcSession, "delete", "logout", noInput, data.VoidType),
	rpcOp(svcDownloadSession, "list", "download-session-list", byItem, data.ListOf(data.IDType)),

	rpcOp(svcUpdateSession, "create", "create", data.StructOf("operation-input",
		data.F("client_token", data.OptionalOf(data.StringType)), data.F("create_spec", sessionModelType)), data.IDType),
	rpcOp(svcUpdateSession, "list", "list", byItem, data.ListOf(data.IDType)),
	rpcOp(svcUpdateSession, "get", "get", onSession(), sessionModelType),
	rpcOp(svcUpdateSession, "update", "update", onSession(data.F("update_spec", sessionModelType)), data.VoidType),
	rpcOp(svcUpdateSession, "delete", "delete", onSession(), data.VoidType),
	rpcOp(svcUpdateSession, "complete", "complete", onSession(), data.VoidType),
	rpcOp(svcUpdateSession, "cancel", "cancel", onSession(), data.VoidType),
	rpcOp(svcUpdateSession, "fail", "fail", onSession(data.F("client_error_message", data.StringType)), data.VoidType),
	rpcOp(svcUpdateSession, "keep_alive", "keep-alive",
		onSession(data.F("client_progress", data.OptionalOf(data.IntegerType))), data.VoidType),
)

// byItem is the input of the lists: an optional library item.
var byItem = data.StructOf("operation-input", data.F("library_item_id", data.OptionalOf(data.IDType)))

// rpcOp describes the operation of the table named name as the service's operation id. It
// panics when the table has no such operation, which every test of the package shows.
func rpcOp(service, operation, name string, input, output *data.Type) *rpcOperation {
	op, fixed := operationNamed(name)
	if op == nil {
		panic("the JSON-RPC wire names an operation the table does not have: " + name)
	}
	rop := &rpcOperation{method: rpcMethod{service, operation}, op: op, fixed: fixed, input: input, output: output}
	for _, f := range input.Fields {
		if f.Name == sessionIDField {
			rop.id = sessionIDField
		}
	}
	return rop
}

// operationNamed finds an operation of the table by name; fixed: among fixedOperations.
func operationNamed(name string) (op *operation, fixed bool) {
	for _, op := range operations {
		if op.name == name {
			return op, false
		}
	}
	for _, op := range fixedOperations {
		if op.name == name {
			return op, true
		}
	}
	return nil, false
}

// rpcTable indexes ops by service and operation id.
func rpcTable(ops ...*rpcOperation) map[rpcMethod]*rpcOperation {
	table := make(map[rpcMethod]*rpcOperation, len(ops))
	for _, rop := range ops {
		table[rop.method] = rop
	}
	return table
}
