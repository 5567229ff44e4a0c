"""Drives the operator with VMware's Python SDK (vAPI runtime and vCenter bindings), as a user of
the SDK would: UpdateSession stubs over the vAPI JSON-RPC wire at POST /api, logged in with a
Kubernetes token as the password. Prints what it saw as one JSON object; the Go test judges it.

Usage: vapi_sdk.py URL TOKEN (PYTHONPATH holds the extracted wheels); vapi_sdk.py --files URL
TOKEN: the update-session file service, a file's bytes sent to the upload endpoint add answers;
vapi_sdk.py --downloads URL TOKEN: the download-session services, a committed file read back;
vapi_sdk.py --vsphere-client HOST:PORT TOKEN: the SDK's own entry point, create_vsphere_client,
over HTTPS with a self-signed certificate.
"""

import json
import sys

import requests

from com.vmware.cis_client import Session
from com.vmware.content.library.item_client import UpdateSession, UpdateSessionModel
from com.vmware.content.library.item.updatesession_client import WarningBehavior, WarningType
from vmware.vapi.lib.connect import get_requests_connector
from vmware.vapi.security.client.security_context_filter import LegacySecurityContextFilter
from vmware.vapi.security.session import create_session_security_context
from vmware.vapi.security.user_password import create_user_password_security_context
from vmware.vapi.stdlib.client.factories import StubConfigurationFactory


def stub_config(url, security_context):
    connector = get_requests_connector(
        session=requests.Session(), url=url + '/api',
        provider_filter_chain=[LegacySecurityContextFilter(security_context=security_context)])
    return StubConfigurationFactory.new_std_configuration(connector)


def refusal(call):
    """Runs call, which must raise; returns the class and first message of what it raised."""
    try:
        call()
    except Exception as e:  # pylint: disable=broad-except
        messages = getattr(e, 'messages', None) or []
        return {
            'class': type(e).__module__ + '.' + type(e).__name__,
            'message': messages[0].default_message if messages else str(e),
        }
    return {'class': None, 'message': 'no error'}


def model(m):
    return {
        'id': m.id,
        'library_item_id': m.library_item_id,
        'state': m.state and str(m.state),
        'client_progress': m.client_progress,
        'has_expiration_time': m.expiration_time is not None,
        'error_message': m.error_message and m.error_message.default_message,
        'warning_behavior': [[str(w.type), w.ignored] for w in (m.warning_behavior or [])],
    }


def main(url, token):
    seen = {}
    login = Session(stub_config(url, create_user_password_security_context('uploader', token)))
    session_id = login.create()
    config = stub_config(url, create_session_security_context(session_id))
    seen['session_user'] = Session(config).get().user
    sessions = UpdateSession(config)

    spec = UpdateSessionModel(library_item_id='item-a', warning_behavior=[
        WarningBehavior(type=WarningType.SELF_SIGNED_CERTIFICATE, ignored=True)])
    first = sessions.create(create_spec=spec, client_token='token-a')
    seen['retry_same_id'] = sessions.create(create_spec=spec, client_token='token-a') == first
    seen['created'] = model(sessions.get(first))
    seen['listed'] = first in sessions.list()
    seen['listed_by_item'] = sessions.list(library_item_id='item-a') == [first]

    sessions.keep_alive(first, client_progress=40)
    sessions.keep_alive(first)
    seen['kept_alive'] = model(sessions.get(first))
    sessions.update(first, UpdateSessionModel(warning_behavior=[
        WarningBehavior(type=WarningType.EXPIRED_CERTIFICATE, ignored=False)]))
    seen['updated'] = model(sessions.get(first))
    seen['progress_backwards'] = refusal(lambda: sessions.keep_alive(first, client_progress=10))
    seen['bad_warning'] = refusal(lambda: sessions.update(first, UpdateSessionModel(warning_behavior=[
        WarningBehavior(type=WarningType.EXPIRED_CERTIFICATE, ignored=False)] * 2)))
    seen['second_on_item'] = refusal(lambda: sessions.create(create_spec=UpdateSessionModel(library_item_id='item-a')))
    seen['delete_active'] = refusal(lambda: sessions.delete(first))
    sessions.complete(first)
    seen['completed'] = model(sessions.get(first))
    seen['keep_alive_done'] = refusal(lambda: sessions.keep_alive(first))

    failed = sessions.create(create_spec=UpdateSessionModel(library_item_id='item-b'))
    sessions.fail(failed, 'disk full')
    seen['failed'] = model(sessions.get(failed))
    canceled = sessions.create(create_spec=UpdateSessionModel(library_item_id='item-c'))
    sessions.cancel(canceled)
    seen['canceled'] = model(sessions.get(canceled))

    sessions.delete(first)
    seen['deleted'] = refusal(lambda: sessions.get(first))
    seen['unknown'] = refusal(lambda: sessions.keep_alive('no-such-session'))
    seen['ids'] = {'first': first, 'failed': failed, 'canceled': canceled}

    forged = UpdateSession(stub_config(url, create_session_security_context('0' * 32)))
    seen['forged_session'] = refusal(forged.list)
    wrong = Session(stub_config(url, create_user_password_security_context('uploader', 'hunter2')))
    seen['wrong_password'] = refusal(wrong.create)

    Session(config).delete()
    json.dump(seen, sys.stdout, indent=1, sort_keys=True)


def files_flow(url, token):
    """The file service: add a PUSH file, send its bytes, read it back, validate, complete."""
    import hashlib
    import time
    from com.vmware.content.library.item_client import File as ItemFile
    from com.vmware.content.library.item.updatesession_client import File
    session_id = Session(stub_config(url, create_user_password_security_context('uploader', token))).create()
    config = stub_config(url, create_session_security_context(session_id))
    sessions, files = UpdateSession(config), File(config)
    payload = b'the bytes of a disk'
    sid = sessions.create(create_spec=UpdateSessionModel(library_item_id='item-files'))
    added = files.add(sid, File.AddSpec(
        name='disk.vmdk', source_type=File.SourceType.PUSH, size=len(payload),
        checksum_info=ItemFile.ChecksumInfo(algorithm=ItemFile.ChecksumAlgorithm.SHA256,
                                            checksum=hashlib.sha256(payload).hexdigest())))
    seen = {'added': {'status': str(added.status), 'upload_uri': bool(added.upload_endpoint.uri)}}
    seen['put_status'] = requests.put(added.upload_endpoint.uri, data=payload).status_code
    files.add(sid, File.AddSpec(name='extra.txt', source_type=File.SourceType.PUSH, size=1))
    files.remove(sid, 'extra.txt')
    for _ in range(100):  # the transfer's end is written to the session a moment after the PUT
        got = files.get(sid, 'disk.vmdk')
        if str(got.status) != 'WAITING_FOR_TRANSFER' and str(got.status) != 'TRANSFERRING':
            break
        time.sleep(0.1)
    seen['got'] = {'status': str(got.status), 'bytes_transferred': got.bytes_transferred}
    seen['listed'] = [f.name for f in files.list(sid)]
    result = files.validate(sid)
    seen['validated'] = {'has_errors': result.has_errors, 'missing_files': sorted(result.missing_files)}
    seen['unknown_file'] = refusal(lambda: files.get(sid, 'no-such-file'))
    sessions.complete(sid)
    seen['state'] = str(sessions.get(sid).state)
    item_files(config, 'item-files', 'disk.vmdk', seen)
    json.dump(seen, sys.stdout, indent=1, sort_keys=True)


def item_files(config, item, name, seen):
    """The item's file and storage services, once a session committed name to item."""
    from com.vmware.content.library.item_client import File as ItemFile, Storage
    files, storage = ItemFile(config), Storage(config)
    seen['item_files'] = [{'name': f.name, 'size': f.size, 'checksum': f.checksum_info and f.checksum_info.checksum,
                           'version': f.version} for f in files.list(item)]
    seen['item_file_size'] = files.get(item, name).size
    seen['item_storage'] = [{'name': s.name, 'backing': str(s.storage_backing.type), 'uris': len(s.storage_uris)}
                            for s in storage.get(item, name)]
    seen['item_storage_listed'] = [s.name for s in storage.list(item)]
    seen['unknown_item_file'] = refusal(lambda: files.get(item, 'no-such-file'))


def upload(config, item, name, payload):
    """Commits payload as the one file of item, through an update session, as files_flow sends it."""
    import hashlib
    import time
    from com.vmware.content.library.item_client import File as ItemFile
    from com.vmware.content.library.item.updatesession_client import File
    sessions, files = UpdateSession(config), File(config)
    sid = sessions.create(create_spec=UpdateSessionModel(library_item_id=item))
    added = files.add(sid, File.AddSpec(
        name=name, source_type=File.SourceType.PUSH, size=len(payload),
        checksum_info=ItemFile.ChecksumInfo(algorithm=ItemFile.ChecksumAlgorithm.SHA256,
                                            checksum=hashlib.sha256(payload).hexdigest())))
    requests.put(added.upload_endpoint.uri, data=payload).raise_for_status()
    for _ in range(100):  # the transfer's end is written to the session a moment after the PUT
        if str(files.get(sid, name).status) == 'READY':
            break
        time.sleep(0.1)
    sessions.complete(sid)
    for _ in range(100):
        if str(sessions.get(sid).state) != 'ACTIVE':
            return str(sessions.get(sid).state)
        time.sleep(0.1)
    return 'ACTIVE'


def download_model(m):
    return {
        'id': m.id,
        'library_item_id': m.library_item_id,
        'has_content_version': bool(m.library_item_content_version),
        'state': m.state and str(m.state),
        'client_progress': m.client_progress,
        'has_expiration_time': m.expiration_time is not None,
        'error_message': m.error_message and m.error_message.default_message,
    }


def downloads_flow(url, token):
    """The download services: a file committed through an update session, then a download session
    created with a client token, its file prepared, polled to PREPARED and its bytes fetched from
    the download endpoint with plain HTTP; keep-alive with progress, fail, cancel, delete, and the
    errors each raises."""
    import hashlib
    import time
    from com.vmware.content.library.item_client import DownloadSession, DownloadSessionModel
    from com.vmware.content.library.item.downloadsession_client import File
    session_id = Session(stub_config(url, create_user_password_security_context('uploader', token))).create()
    config = stub_config(url, create_session_security_context(session_id))
    payload = b'the bytes of a disk, read back'
    seen = {'uploaded': upload(config, 'item-dl', 'disk.vmdk', payload)}

    downloads, files = DownloadSession(config), File(config)
    spec = DownloadSessionModel(library_item_id='item-dl')
    did = downloads.create(create_spec=spec, client_token='dl-token')
    seen['retry_same_id'] = downloads.create(create_spec=spec, client_token='dl-token') == did
    seen['created'] = download_model(downloads.get(did))
    seen['listed'] = downloads.list() == [did]
    seen['listed_by_item'] = downloads.list(library_item_id='item-dl') == [did]
    seen['listed_other_item'] = downloads.list(library_item_id='item-other')
    seen['files'] = [[f.name, str(f.status), f.download_endpoint is None] for f in files.list(did)]

    prepared = files.prepare(did, 'disk.vmdk', endpoint_type=File.EndpointType.HTTPS)
    seen['prepared'] = str(prepared.status)
    for _ in range(100):
        got = files.get(did, 'disk.vmdk')
        if str(got.status) == 'PREPARED':
            break
        time.sleep(0.1)
    seen['got'] = {
        'status': str(got.status), 'size': got.size,
        'algorithm': str(got.checksum_info.algorithm),
        'checksum_matches': got.checksum_info.checksum == hashlib.sha256(payload).hexdigest(),
    }
    fetched = requests.get(got.download_endpoint.uri)
    seen['fetched'] = {'status': fetched.status_code, 'same_bytes': fetched.content == payload}

    downloads.keep_alive(did, progress=100)
    downloads.keep_alive(did)
    seen['kept_alive'] = download_model(downloads.get(did))
    seen['unknown_file_get'] = refusal(lambda: files.get(did, 'no-such-file'))
    seen['unknown_file_prepare'] = refusal(lambda: files.prepare(did, 'no-such-file'))
    seen['unknown_session'] = refusal(lambda: downloads.get('no-such-session'))
    seen['unknown_session_files'] = refusal(lambda: files.list('no-such-session'))

    failed = downloads.create(create_spec=spec)
    downloads.fail(failed, 'disk full')
    seen['failed'] = download_model(downloads.get(failed))
    downloads.cancel(did)
    seen['canceled'] = download_model(downloads.get(did))
    seen['keep_alive_canceled'] = refusal(lambda: downloads.keep_alive(did, progress=100))
    seen['cancel_canceled'] = refusal(lambda: downloads.cancel(did))
    downloads.delete(did)
    downloads.delete(failed)
    seen['deleted'] = refusal(lambda: downloads.get(did))
    seen['listed_after_delete'] = downloads.list()
    seen['ids'] = {'first': did, 'failed': failed}
    json.dump(seen, sys.stdout, indent=1, sort_keys=True)


def vsphere_client(server, token):
    """What the README shows: create_vsphere_client with the token as the password."""
    from vmware.vapi.vsphere.client import create_vsphere_client
    http = requests.Session()
    http.verify = False  # the test's self-signed certificate
    client = create_vsphere_client(server=server, username='uploader', password=token, session=http)
    sessions = client.content.library.item.UpdateSession
    sid = sessions.create(create_spec=UpdateSessionModel(library_item_id='ova-item-1'), client_token='retry-1')
    sessions.keep_alive(sid, client_progress=50)
    seen = {'id': sid, 'kept_alive': model(sessions.get(sid))}
    sessions.complete(sid)
    seen['completed'] = model(sessions.get(sid))
    json.dump(seen, sys.stdout, indent=1, sort_keys=True)


if __name__ == '__main__':
    if sys.argv[1] == '--files':
        files_flow(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == '--downloads':
        downloads_flow(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == '--vsphere-client':
        import urllib3
        urllib3.disable_warnings()
        vsphere_client(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1], sys.argv[2])
