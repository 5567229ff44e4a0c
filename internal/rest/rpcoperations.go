package rest

import (
	"iter"
	"maps"
	"slices"

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
	// origin: the call carries the request's origin, where the file services advertise their
	// transfer endpoints.
	origin bool
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
	previewInfoType = data.StructOf("com.vmware.content.library.item.updatesession.preview_info",
		data.F("state", data.EnumType),
		data.F("certificate_info", data.OptionalOf(data.StructOf(
			"com.vmware.content.library.item.updatesession.certificate_info",
			data.F("issuer", data.StringType), data.F("subject", data.StringType),
			data.F("self_signed", data.BooleanType), data.F("x509", data.StringType)))),
		data.F("warnings", data.OptionalOf(data.ListOf(data.StructOf(
			"com.vmware.content.library.item.updatesession.preview_warning_info",
			data.F("type", data.EnumType), data.F("message", data.LocalizableMessage),
			data.F("ignored", data.BooleanType))))),
		data.F("cert_chain", data.OptionalOf(data.ListOf(data.StringType))),
	)
	// sessionModelType is UpdateSessionModel.
	sessionModelType = data.StructOf("com.vmware.content.library.item.update_session_model",
		data.F("id", data.OptionalOf(data.IDType)),
		data.F("library_item_id", data.OptionalOf(data.IDType)),
		data.F("library_item_content_version", data.OptionalOf(data.StringType)),
		data.F("error_message", data.OptionalOf(data.LocalizableMessage)),
		data.F("client_progress", data.OptionalOf(data.IntegerType)),
		data.F("state", data.OptionalOf(data.EnumType)),
		data.F("expiration_time", data.OptionalOf(data.DateTimeType)),
		data.F("preview_info", data.OptionalOf(previewInfoType)),
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
var rpcOperations = rpcTable(rpcSessionOperations, rpcFileOperations, rpcDownloadOperations, rpcDownloadFileOperations,
	rpcItemOperations)

// rpcSessionOperations are the session and update-session services'.
var rpcSessionOperations = []*rpcOperation{
	rpcOp(svcSession, "create", opLogin, noInput, data.SecretType),
	rpcOp(svcSession, "get", "session-get", noInput, sessionInfoType),
	rpcOp(svcSession, "delete", "logout", noInput, data.VoidType),

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
}

// byItem is the input of the lists: an optional library item.
var byItem = data.StructOf("operation-input", data.F("library_item_id", data.OptionalOf(data.IDType)))

// rpcOp describes the operation of the table named name as the service's operation id. It
// panics when the table has no such operation, which every test of the package shows.
func rpcOp(service, operation, name string, input, output *data.Type) *rpcOperation {
	op, fixed := operationNamed(name, input)
	if op == nil {
		panic("the JSON-RPC wire names an operation the table does not have: " + name)
	}
	rop := &rpcOperation{method: rpcMethod{service, operation}, op: op, fixed: fixed, input: input, output: output}
	for _, f := range input.Fields {
		if f.Name == sessionIDField || f.Name == downloadSessionIDField ||
			f.Name == paramLibraryItemID && op.resource == resourceLibraryItems {
			rop.id = f.Name
		}
	}
	return rop
}

// advertising marks the operations of a file service, whose calls carry the request's origin.
func advertising(ops ...*rpcOperation) []*rpcOperation {
	for _, rop := range ops {
		rop.origin = true
	}
	return ops
}

// operationNamed finds an operation of the table by name; fixed: among fixedOperations. Of the
// entries of one name (an operation the URL forms route two ways), it takes the one whose
// bodyKey is a field of input (file-add's file_spec), else the one without a bodyKey that has
// the fewest named parameters: the /rest form's, whose body holds the input as the call does
// (download-file-get's file_name, which the /api form reads from its query). Entries left
// level by that take the same input alike, so that the map's order does not change a call.
func operationNamed(name string, input *data.Type) (op *operation, fixed bool) {
	var candidates []*operation
	for _, ops := range []iter.Seq[*operation]{maps.Values(operations), maps.Values(contentOperations),
		maps.Values(downloadOperations)} {
		for op := range ops {
			if op.name == name {
				candidates = append(candidates, op)
			}
		}
	}
	if len(candidates) == 0 {
		for _, op := range fixedOperations {
			if op.name == name {
				candidates, fixed = append(candidates, op), true
			}
		}
	}
	for _, op := range candidates {
		if op.bodyKey != "" && slices.ContainsFunc(input.Fields, func(f data.Field) bool { return f.Name == op.bodyKey }) {
			return op, fixed
		}
	}
	var flat *operation
	for _, op := range candidates {
		if op.bodyKey == "" && (flat == nil || len(op.params) < len(flat.params)) {
			flat = op
		}
	}
	return flat, fixed && flat != nil
}

// rpcServices is rpcOperations by service and operation id, which a lookup indexes with the
// bytes of a request, without a copy.
var rpcServices = byService(rpcOperations)

// byService indexes table by service, then operation id.
func byService(table map[rpcMethod]*rpcOperation) map[string]map[string]*rpcOperation {
	services := map[string]map[string]*rpcOperation{}
	for m, rop := range table {
		if services[m.service] == nil {
			services[m.service] = map[string]*rpcOperation{}
		}
		services[m.service][m.operation] = rop
	}
	return services
}

// rpcTable indexes the operations of services by service and operation id.
func rpcTable(services ...[]*rpcOperation) map[rpcMethod]*rpcOperation {
	table := map[rpcMethod]*rpcOperation{}
	for _, ops := range services {
		for _, rop := range ops {
			table[rop.method] = rop
		}
	}
	return table
}
