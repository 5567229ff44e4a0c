package rest

import "github.com/contentlib/update-session-operator/internal/vapi/data"

// The item file and storage services, as the bindings name them.
const (
	svcItemFiles   = "com.vmware.content.library.item.file"
	svcItemStorage = "com.vmware.content.library.item.storage"
)

// The types of the item services' results: com/vmware/content/library/item_client.py (File.Info,
// Storage.Info) and library_client.py (StorageBacking). A URI travels as a string.
var (
	itemFileInfoFields = []data.Field{
		data.F("checksum_info", data.OptionalOf(checksumInfoType)),
		data.F("name", data.StringType),
		data.F("size", data.IntegerType),
		data.F("cached", data.BooleanType),
		data.F("version", data.StringType),
	}
	itemFileInfoType    = data.StructOf("com.vmware.content.library.item.file.info", itemFileInfoFields...)
	itemStorageInfoType = data.StructOf("com.vmware.content.library.item.storage.info", append([]data.Field{
		data.F("storage_backing", data.StructOf("com.vmware.content.library.storage_backing",
			data.F("type", data.OptionalOf(data.EnumType)),
			data.F("datastore_id", data.OptionalOf(data.IDType)),
			data.F("storage_uri", data.OptionalOf(data.StringType)),
		)),
		data.F("storage_uris", data.ListOf(data.StringType)),
	}, itemFileInfoFields...)...)
)

// onItem is the input of an operation on one library item.
func onItem(fields ...data.Field) *data.Type {
	return data.StructOf("operation-input", append([]data.Field{data.F(paramLibraryItemID, data.IDType)}, fields...)...)
}

// rpcItemOperations are the item file and storage services' operations on the JSON-RPC wire.
// A storage get answers a list, as vSphere does: a file may have copies on several backings.
var rpcItemOperations = []*rpcOperation{
	rpcOp(svcItemFiles, "list", "item-file-list", onItem(), data.ListOf(itemFileInfoType)),
	rpcOp(svcItemFiles, "get", "item-file-get", onItem(data.F(paramName, data.StringType)), itemFileInfoType),
	rpcOp(svcItemStorage, "list", "item-storage-list", onItem(), data.ListOf(itemStorageInfoType)),
	rpcOp(svcItemStorage, "get", "item-storage-get", onItem(data.F(paramFileName, data.StringType)),
		data.ListOf(itemStorageInfoType)),
}
