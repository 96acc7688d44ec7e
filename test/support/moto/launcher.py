"""Runs moto's server for the e2e tests, with a small control API for what moto cannot do by itself.

Started by test/support/moto.ts with the venv's python. Listens on 127.0.0.1 on a free port, prints one
JSON line `{"host": ..., "port": ...}` on stdout once it accepts connections, and exits when its stdin
closes (so it never outlives the test process) or on SIGTERM.

moto's RDS models report a cluster as `creating` exactly once and everything else as `available`
(snapshots at 100 %), so a test cannot observe a wait loop. The control API pins what moto reports:

  POST /_harness/override   {"kind": "cluster"|"snapshot"|"instance", "id": "...", "region": "..."?,
                             "status": "..."?, "percentProgress": 40?,                     (snapshot)
                             "endpoint": "..."?, "readerEndpoint": "..."?, "port": 5432?,  (cluster)
                             "pendingModifiedValues": {...}?}                              (cluster)
  POST /_harness/release    {"kind": ..., "id": ..., "region": ...?}  or {} to release everything
  GET  /_harness/overrides  the overrides in force
  POST /_harness/quota      {"name": "ManualClusterSnapshots"|"DBClusters"|..., "region": "..."?, "used": 3?, "max": 3?}
                            pins what DescribeAccountAttributes reports for an account quota (fix account-attributes);
                            released with the overrides ({} to /_harness/release)
  POST /_harness/cluster-credentials  {"id": "...", "region": "...", "account": "..."?}
                            the cluster's master user name and current master password, as the last
                            create/restore/modify set them, or {"found": false}. RDS never tells; the
                            e2e harness uses it to make a local PostgreSQL, standing in for the
                            cluster, accept the password the pipeline reset.
  POST /_harness/account-credentials  {"account": "111111111111"}
                            an access key of an administrator user of that account (moto tells accounts apart
                            by access key): how a test sets up another account without assuming a role
  POST /_harness/aws-managed-key      {"account": ..., "region": ..., "service": "rds"}
                            the account's AWS managed key alias/aws/<service> in that region, reporting
                            KeyManager AWS (moto makes these keys as customer managed ones)

An override is keyed by identifier (and region when given), so it can be set before the resource exists
and applies to every resource of that identifier until released. Only what describe/create/modify
responses show changes; moto's own state machine underneath goes on as before.

The emulator's divergences from RDS that the pipeline would trip over are patched here, each small and
named in EMULATOR_FIXES, so the handlers can stay faithful to the real API. `--without-fix=NAME[,NAME]`
leaves some out (the tests use it to show each fix is still needed).
"""

import json
import re
import signal
import sys
import threading
from typing import Any, Callable, Dict, Optional, Tuple

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.rds import exceptions as rds_exceptions
from moto.rds import models as rds_models
from werkzeug.serving import make_server

KINDS = ("cluster", "snapshot", "instance")

# RDS's default account quotas (Service Quotas, per region) that DescribeAccountAttributes reports.
DEFAULT_QUOTAS = {"DBClusters": 40, "DBInstances": 40, "ManualClusterSnapshots": 100, "ManualSnapshots": 100}
_quotas: Dict[Tuple[str, Optional[str]], Dict[str, int]] = {}

_lock = threading.Lock()
_overrides: Dict[str, Dict[Tuple[str, Optional[str]], Dict[str, Any]]] = {kind: {} for kind in KINDS}


def _override(kind: str, identifier: Optional[str], region: Optional[str]) -> Optional[Dict[str, Any]]:
    if identifier is None:
        return None
    table = _overrides[kind]
    with _lock:
        return table.get((identifier.lower(), region)) or table.get((identifier.lower(), None))


def _pin(kind: str, field: str, id_of: Callable[[Any], Optional[str]], raw: Callable[[Any], Any]):
    """A property that reports the override's `field` when one is in force, else the raw value."""

    def get(self: Any) -> Any:
        o = _override(kind, id_of(self), self.region)
        if o is not None and field in o:
            return o[field]
        return raw(self)

    return get


def _stored_attribute(kind: str, attr: str, field: str, id_of: Callable[[Any], Optional[str]]) -> property:
    """Turns a plain instance attribute into a property that keeps the value in `__dict__` under the
    same name (so `get_cfg`, `copy.copy` and friends still see it) and reports the override when set."""

    def raw(self: Any) -> Any:
        return self.__dict__.get(attr)

    def set_(self: Any, value: Any) -> None:
        self.__dict__[attr] = value

    return property(_pin(kind, field, id_of, raw), set_)


def _identifier(attr: str) -> Callable[[Any], Optional[str]]:
    def get(obj: Any) -> Optional[str]:
        try:
            return getattr(obj, attr)
        except AttributeError:  # not set yet: reads during __init__
            return None

    return get


_cluster_id = _identifier("db_cluster_identifier")
_snapshot_id = _identifier("db_cluster_snapshot_identifier")
_instance_id = _identifier("db_instance_identifier")


def _patch_reported_values() -> None:
    cluster = rds_models.DBCluster
    status_prop = cluster.status

    def cluster_status(self: Any) -> Any:
        o = _override("cluster", _cluster_id(self), self.region)
        if o is not None and "status" in o:
            return o["status"]  # moto's one-shot `creating` is not consumed while held
        return status_prop.fget(self)

    cluster.status = property(cluster_status, status_prop.fset)
    endpoint_prop = cluster.endpoint
    reader_prop = cluster.reader_endpoint
    cluster.endpoint = property(_pin("cluster", "endpoint", _cluster_id, endpoint_prop.fget))
    cluster.reader_endpoint = property(_pin("cluster", "readerEndpoint", _cluster_id, reader_prop.fget))
    cluster.port = _stored_attribute("cluster", "port", "port", _cluster_id)
    cluster.pending_modified_values = property(
        _pin("cluster", "pendingModifiedValues", _cluster_id, lambda self: self.__dict__.get("pending_modified_values")))

    snapshot = rds_models.DBClusterSnapshot
    snapshot.status = _stored_attribute("snapshot", "status", "status", _snapshot_id)
    snapshot.percent_progress = _stored_attribute("snapshot", "percent_progress", "percentProgress", _snapshot_id)

    instance = rds_models.DBInstance
    instance.status = _stored_attribute("instance", "status", "status", _instance_id)


def _snapshot_id_from_arn(backend: Any, identifier: Optional[str]) -> Optional[str]:
    """The identifier in a cluster snapshot ARN of the backend's own region and account; anything else unchanged
    (an ARN of another region or account then matches nothing here, as in RDS; see fix shared-snapshot-arn)."""
    if not identifier or not identifier.startswith("arn:"):
        return identifier
    parts = identifier.split(":", 6)
    if len(parts) == 7 and parts[3] == backend.region_name and parts[4] == backend.account_id and parts[5] == "cluster-snapshot":
        return parts[6]
    return identifier


def _fix_snapshot_arn_as_identifier() -> None:
    """RDS accepts a cluster snapshot's ARN wherever DescribeDBClusterSnapshots and
    RestoreDBClusterFromSnapshot take its identifier (the only way to name a shared snapshot, and what
    the pipeline passes for an uncopied snapshot); moto only matches the plain identifier. moto's restore
    looks its snapshot up through describe, so one patch covers both."""
    backend_cls = rds_models.RDSBackend
    describe_original = backend_cls.describe_db_cluster_snapshots

    def describe(self: Any, db_cluster_identifier: Any, db_snapshot_identifier: Any, *args: Any, **kwargs: Any) -> Any:
        return describe_original(self, db_cluster_identifier, _snapshot_id_from_arn(self, db_snapshot_identifier),
                                 *args, **kwargs)

    backend_cls.describe_db_cluster_snapshots = describe


def _fix_restore_deletion_protection() -> None:
    """moto's restore copies the snapshot's cluster settings and applies only truthy request parameters, so
    DeletionProtection=false is ignored when the source cluster had it on. RDS applies the request's value."""
    original = rds_models.RDSBackend.restore_db_cluster_from_snapshot

    def restore(self: Any, from_snapshot_id: str, overrides: Dict[str, Any]) -> Any:
        cluster = original(self, from_snapshot_id, overrides)
        if overrides.get("deletion_protection") is not None:
            cluster.deletion_protection = bool(overrides["deletion_protection"])
        return cluster

    rds_models.RDSBackend.restore_db_cluster_from_snapshot = restore


def _fix_automated_snapshot_collision() -> None:
    """moto names a cluster's automated snapshot `rds:<id>-<YYYY-MM-DD-HH-MM>` and raises
    DBClusterSnapshotAlreadyExists when the same identifier is created twice in one UTC minute, which a
    replace-the-target run always does. RDS never fails a create for that; skip the duplicate."""
    original = rds_models.DBCluster.save_automated_backup

    def save_automated_backup(self: Any) -> None:
        try:
            original(self)
        except rds_models.DBClusterSnapshotAlreadyExistsError:
            pass

    rds_models.DBCluster.save_automated_backup = save_automated_backup


def _fix_failed_modify_loses_cluster() -> None:
    """moto's modify_db_cluster removes the cluster from its table before validating, so a rejected
    change (e.g. a password shorter than 8 characters) deletes the cluster. RDS leaves it untouched."""
    original = rds_models.RDSBackend.modify_db_cluster

    def modify(self: Any, kwargs: Dict[str, Any]) -> Any:
        cluster_id = kwargs.get("db_cluster_identifier")
        before = self.clusters.get(cluster_id)
        try:
            return original(self, kwargs)
        except Exception:
            if before is not None and cluster_id not in self.clusters:
                self.clusters[cluster_id] = before
            raise

    rds_models.RDSBackend.modify_db_cluster = modify


def _fix_copy_kms_key_of_unencrypted_snapshot() -> None:
    """RDS refuses CopyDBClusterSnapshot with a KmsKeyId when the source snapshot is not encrypted
    (InvalidParameterValue); moto encrypts the copy instead, so a pipeline that always sends a key would
    pass here and fail on AWS."""
    original = rds_models.RDSBackend.copy_db_cluster_snapshot

    def copy_snapshot(self: Any, source_db_cluster_snapshot_identifier: str, target_db_cluster_snapshot_identifier: str,
                      kms_key_id: Optional[str] = None, *args: Any, **kwargs: Any) -> Any:
        if kms_key_id:
            source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
            if not getattr(source, "encrypted", False):
                raise rds_exceptions.InvalidParameterValue(
                    "KmsKeyId should not be specified when copying an unencrypted DB cluster snapshot.")
        return original(self, source_db_cluster_snapshot_identifier, target_db_cluster_snapshot_identifier,
                        kms_key_id, *args, **kwargs)

    rds_models.RDSBackend.copy_db_cluster_snapshot = copy_snapshot


def _fix_restore_with_kms_key_encrypts() -> None:
    """RDS encrypts a cluster restored with a KmsKeyId, also from an unencrypted snapshot; moto keeps the
    snapshot's StorageEncrypted=false next to the key."""
    original = rds_models.RDSBackend.restore_db_cluster_from_snapshot

    def restore(self: Any, from_snapshot_id: str, overrides: Dict[str, Any]) -> Any:
        cluster = original(self, from_snapshot_id, overrides)
        if overrides.get("kms_key_id"):
            cluster.storage_encrypted = True
        return cluster

    rds_models.RDSBackend.restore_db_cluster_from_snapshot = restore


def _fix_stopped_cluster_cannot_be_deleted() -> None:
    """RDS deletes neither a stopped Aurora cluster nor the instances of one (InvalidDBClusterStateFault /
    InvalidDBInstanceState): it must be started first. moto deletes both."""
    delete_cluster = rds_models.RDSBackend.delete_db_cluster
    delete_instance = rds_models.RDSBackend.delete_db_instance

    def stopped(backend: Any, cluster_id: Optional[str]) -> bool:
        cluster = backend.clusters.get(cluster_id) if cluster_id else None
        return cluster is not None and cluster.status == "stopped"

    def delete_db_cluster(self: Any, cluster_identifier: str, *args: Any, **kwargs: Any) -> Any:
        if stopped(self, cluster_identifier):
            raise rds_exceptions.InvalidDBClusterStateFault(
                f"DbCluster {cluster_identifier} is in stopped state but expected it to be one of available.")
        return delete_cluster(self, cluster_identifier, *args, **kwargs)

    def delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
        instance = self.databases.get(db_instance_identifier)
        if instance is not None and stopped(self, getattr(instance, "db_cluster_identifier", None)):
            raise rds_exceptions.InvalidDBInstanceStateFault(
                f"Instance {db_instance_identifier} cannot be deleted: its cluster is stopped.")
        return delete_instance(self, db_instance_identifier, *args, **kwargs)

    rds_models.RDSBackend.delete_db_cluster = delete_db_cluster
    rds_models.RDSBackend.delete_db_instance = delete_db_instance


def _fix_account_attributes() -> None:
    """moto does not implement RDS DescribeAccountAttributes (the account's quotas). Report RDS's default maximums
    and the backend's real usage, unless a test pins a quota through /_harness/quota (how a full quota is held)."""
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    def describe_account_attributes(self: Any) -> Any:
        backend = self.backend
        used = {
            "DBClusters": len(backend.clusters),
            "DBInstances": len(backend.databases),
            "ManualClusterSnapshots": sum(1 for s in backend.cluster_snapshots.values() if s.snapshot_type == "manual"),
            "ManualSnapshots": sum(1 for s in backend.database_snapshots.values() if getattr(s, "snapshot_type", "manual") == "manual"),
        }
        quotas = []
        for name, maximum in DEFAULT_QUOTAS.items():
            with _lock:
                held = _quotas.get((name, self.region)) or _quotas.get((name, None)) or {}
            quotas.append({"AccountQuotaName": name, "Used": held.get("used", used[name]), "Max": held.get("max", maximum)})
        return ActionResult({"AccountQuotas": quotas})

    RDSResponse.describe_account_attributes = describe_account_attributes


def _renamed(kwargs: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """(old, new) identifiers of a ModifyDBCluster that renames, else None."""
    old, new = kwargs.get("db_cluster_identifier"), kwargs.get("new_db_cluster_identifier")
    if not old or not new or old.lower() == new.lower():
        return None
    return old, new


def _fix_rename_onto_existing_cluster() -> None:
    """RDS refuses to rename a cluster to an identifier another cluster has (DBClusterAlreadyExistsFault); moto
    renames it anyway and the other cluster silently disappears from its table."""
    original = rds_models.RDSBackend.modify_db_cluster

    def modify(self: Any, kwargs: Dict[str, Any]) -> Any:
        renamed = _renamed(kwargs)
        if renamed and renamed[1] in self.clusters:
            raise rds_exceptions.RDSClientError("DBClusterAlreadyExistsFault", f"DB Cluster already exists: {renamed[1]}")
        return original(self, kwargs)

    rds_models.RDSBackend.modify_db_cluster = modify


def _fix_rename_keeps_instances() -> None:
    """In RDS a renamed cluster keeps its instances (DBClusterMembers; each instance's DBClusterIdentifier is the new
    name). moto leaves the instances pointing at the old identifier, so the renamed cluster lists no members and a
    cluster later given the old name inherits them."""
    original = rds_models.RDSBackend.modify_db_cluster

    def modify(self: Any, kwargs: Dict[str, Any]) -> Any:
        renamed = _renamed(kwargs)
        result = original(self, kwargs)
        if renamed:
            for instance in self.databases.values():
                if getattr(instance, "db_cluster_identifier", None) == renamed[0]:
                    instance.db_cluster_identifier = renamed[1]
        return result

    rds_models.RDSBackend.modify_db_cluster = modify


def _fix_rename_reports_renaming() -> None:
    """RDS reports a renamed cluster as `renaming` under its new identifier until the rename is done, so a caller
    must wait before the next change; moto reports it `available` at once. Here it is `renaming` on the first
    describe after the rename (like moto's one-shot `creating`); tests hold it longer with an override."""
    original = rds_models.RDSBackend.modify_db_cluster
    status_prop = rds_models.DBCluster.status

    def modify(self: Any, kwargs: Dict[str, Any]) -> Any:
        renamed = _renamed(kwargs)
        result = original(self, kwargs)
        if renamed:
            self.clusters[renamed[1]]._status = "renaming"
        return result

    def status(self: Any) -> Any:
        value = status_prop.fget(self)  # an override in force wins
        if self.__dict__.get("_status") == "renaming":
            self._status = "available"
        return value

    rds_models.RDSBackend.modify_db_cluster = modify
    rds_models.DBCluster.status = property(status, status_prop.fset)


# --- Several accounts: who may assume a role, and snapshots shared between accounts --------------------------------

CALLER_ARN_HEADER = "x-harness-caller-arn"


def _split_arn(arn: str) -> Optional[Tuple[str, str, str, str, str]]:
    """(partition, service, region, account, resource) of an ARN, else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[1], parts[2], parts[3], parts[4], parts[5]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _principal_matches(principal: Any, caller_account: str, caller_arns: list) -> bool:
    """A policy's `Principal` against the caller: `*`, the caller's account (id or root ARN), or one of its ARNs."""
    if principal == "*":
        return True
    values = _as_list(principal.get("AWS")) if isinstance(principal, dict) else []
    for value in values:
        if value == "*" or value == caller_account or value == f"arn:aws:iam::{caller_account}:root":
            return True
        if value in caller_arns:
            return True
    return False


def _conditions_hold(conditions: Any, context: Dict[str, str]) -> bool:
    """StringEquals / StringLike / Bool on the keys of `context`; any other operator or key does not hold (a
    statement this evaluator cannot read never grants)."""
    for operator, entries in (conditions or {}).items():
        if operator not in ("StringEquals", "StringLike", "Bool"):
            return False
        for key, expected in entries.items():
            actual = context.get(key.lower())
            if actual is None:
                return False
            wanted = [str(v) for v in _as_list(expected)]
            if operator == "StringLike":
                if not any(_wildcard(w, actual) for w in wanted):
                    return False
            elif operator == "Bool":
                if actual.lower() not in [w.lower() for w in wanted]:
                    return False
            elif actual not in wanted:
                return False
    return True


def _policy_allows(document: Any, action: str, caller_account: str, caller_arns: list, context: Dict[str, str]) -> bool:
    """Whether a resource policy (trust or key policy) allows the caller `action`: an Allow statement for it and no
    Deny statement. Resources are not checked (a trust or key policy names its own resource or `*`)."""
    try:
        policy = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return False
    allowed = False
    for st in _as_list((policy or {}).get("Statement")):
        if not any(_wildcard(a, action) for a in _as_list(st.get("Action"))):
            continue
        if not _principal_matches(st.get("Principal"), caller_account, caller_arns):
            continue
        if not _conditions_hold(st.get("Condition"), context):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


def _fix_assume_role_trust() -> None:
    """STS AssumeRole answers AccessDenied unless the role exists in its account and its trust policy allows the
    caller (its account, as id or root ARN, or its role's or user's ARN), as AWS does, and names the caller in its
    refusal as STS does; moto hands out credentials for any ARN. The caller: the role session of an assumed-role key
    or the IAM user of a key, else the role session the test harness's IAM recorder (which knows the function behind
    a request) names in the `x-harness-caller-arn` header (`arn:aws:sts::<account>:assumed-role/<role>/<session>`)."""
    from moto.iam.models import iam_backends
    from moto.sts import responses as sts_responses
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import sts_backends

    class AccessDenied(STSClientError):
        code = "AccessDenied"

        def __init__(self, message: str) -> None:
            super().__init__("AccessDenied", message)

    original = sts_responses.TokenResponse.assume_role

    def caller(response: Any, account: str) -> Tuple[Optional[str], list]:
        """(the caller's ARN as STS names it, the ARNs a trust policy may name it by)."""
        key = response.get_access_key()
        for partition in sts_backends[account]:
            assumed = sts_backends[account][partition].get_assumed_role_from_access_key(key)
            if assumed is not None:
                return assumed.arn, [assumed.role_arn, assumed.arn]
        for partition in iam_backends[account]:
            for user in iam_backends[account][partition].users.values():
                if any(k.access_key_id == key for k in user.access_keys):
                    return user.arn, [user.arn]
        header = response.headers.get(CALLER_ARN_HEADER)
        session = re.fullmatch(r"arn:([\w-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+", header or "")
        if session:
            return header, [header, f"arn:{session.group(1)}:iam::{session.group(2)}:role/{session.group(3)}"]
        return None, []

    def assume_role(self: Any) -> Any:
        role_arn = self._get_param("RoleArn") or ""
        account = self.get_current_account()
        who, arns = caller(self, account)
        denied = AccessDenied(f"User: {who or f'arn:aws:iam::{account}:root'} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
        parsed = _split_arn(role_arn)
        if parsed is None or parsed[1] != "iam" or parsed[3] not in iam_backends:
            raise denied
        try:
            role = iam_backends[parsed[3]][parsed[0]].get_role_by_arn(role_arn)
        except Exception:
            raise denied
        if not _policy_allows(role.assume_role_policy_document, "sts:AssumeRole", account, arns, {}):
            raise denied
        return original(self)

    sts_responses.TokenResponse.assume_role = assume_role


def _foreign_snapshot_arn(backend: Any, identifier: Optional[str]) -> Optional[Tuple[str, str, str]]:
    """(account, region, id) of a cluster snapshot ARN of another account than the backend's, else None."""
    parsed = _split_arn(identifier or "")
    if parsed is None or parsed[1] != "rds" or not parsed[4].startswith("cluster-snapshot:"):
        return None
    if parsed[3] == backend.account_id:
        return None
    return parsed[3], parsed[2], parsed[4].split(":", 1)[1].lower()


def _shared_snapshot(backend: Any, identifier: str) -> Any:
    """Another account's cluster snapshot named by ARN, as the backend's account sees it: found only in the caller's
    region and only when shared with the caller's account (attribute `restore`), else DBClusterSnapshotNotFoundFault."""
    account, region, snapshot_id = _foreign_snapshot_arn(backend, identifier)  # type: ignore[misc]
    owner = rds_models.rds_backends.get(account, {}).get(region) if account in rds_models.rds_backends else None
    snapshot = owner.cluster_snapshots.get(snapshot_id) if owner is not None and region == backend.region_name else None
    if snapshot is None:
        raise rds_models.DBClusterSnapshotNotFoundError(identifier)
    shared_with = snapshot.attributes.get("restore", [])
    if backend.account_id not in shared_with and "all" not in shared_with:
        raise rds_models.DBClusterSnapshotNotFoundError(identifier)
    return snapshot


def _fix_shared_snapshot_arn() -> None:
    """RDS resolves another account's cluster snapshot ARN (in DescribeDBClusterSnapshots, CopyDBClusterSnapshot,
    RestoreDBClusterFromSnapshot) in that account, if the snapshot is shared with the caller's account and in the
    caller's region (a shared cluster snapshot can be copied or restored only in its own region). moto looks the ARN
    up in the caller's own account. Only the owner may change who a snapshot is shared with."""
    backend_cls = rds_models.RDSBackend
    describe_original = backend_cls.describe_db_cluster_snapshots
    get_original = backend_cls.get_db_cluster_snapshot
    modify_original = backend_cls.modify_db_cluster_snapshot_attribute

    def describe(self: Any, db_cluster_identifier: Any, db_snapshot_identifier: Any, *args: Any, **kwargs: Any) -> Any:
        if _foreign_snapshot_arn(self, db_snapshot_identifier):
            return [_shared_snapshot(self, db_snapshot_identifier)]
        return describe_original(self, db_cluster_identifier, db_snapshot_identifier, *args, **kwargs)

    def get(self: Any, identifier: str) -> Any:
        if _foreign_snapshot_arn(self, identifier):
            return _shared_snapshot(self, identifier)
        return get_original(self, identifier)

    def modify(self: Any, db_cluster_snapshot_identifier: str, *args: Any, **kwargs: Any) -> Any:
        if _foreign_snapshot_arn(self, db_cluster_snapshot_identifier):
            raise rds_models.DBClusterSnapshotNotFoundError(db_cluster_snapshot_identifier)
        return modify_original(self, db_cluster_snapshot_identifier, *args, **kwargs)

    backend_cls.describe_db_cluster_snapshots = describe
    backend_cls.get_db_cluster_snapshot = get
    backend_cls.modify_db_cluster_snapshot_attribute = modify


def _snapshot_key(snapshot: Any) -> Tuple[Optional[str], Any]:
    """(key ARN or id, the KMS key or None) of an encrypted snapshot; (None, None) when unencrypted."""
    from moto.kms.models import kms_backends

    key_id = getattr(snapshot, "kms_key_id", None)
    if not getattr(snapshot, "encrypted", False) or not key_id:
        return None, None
    parsed = _split_arn(key_id)
    account, region, raw = (parsed[3], parsed[2], parsed[4].split("/", 1)[-1]) if parsed else (snapshot.account_id, snapshot.region, key_id)
    try:
        return key_id, kms_backends[account][region].describe_key(raw)
    except Exception:
        return key_id, None


def _foreign_encrypted_use(fix: Callable[[Any, str, str, Any, Any], None]) -> None:
    """Runs `fix(backend, snapshot ARN, key ARN, key, snapshot)` before a restore or a copy whose source is another
    account's encrypted snapshot."""
    backend_cls = rds_models.RDSBackend
    restore_original = backend_cls.restore_db_cluster_from_snapshot
    copy_original = backend_cls.copy_db_cluster_snapshot

    def check(backend: Any, identifier: str) -> None:
        if not _foreign_snapshot_arn(backend, identifier):
            return
        snapshot = backend.get_db_cluster_snapshot(identifier)
        key_id, key = _snapshot_key(snapshot)
        if key_id:
            fix(backend, identifier, key_id, key, snapshot)

    def restore(self: Any, from_snapshot_id: str, overrides: Dict[str, Any]) -> Any:
        check(self, from_snapshot_id)
        return restore_original(self, from_snapshot_id, overrides)

    def copy_snapshot(self: Any, source_db_cluster_snapshot_identifier: str, *args: Any, **kwargs: Any) -> Any:
        check(self, source_db_cluster_snapshot_identifier)
        return copy_original(self, source_db_cluster_snapshot_identifier, *args, **kwargs)

    backend_cls.restore_db_cluster_from_snapshot = restore
    backend_cls.copy_db_cluster_snapshot = copy_snapshot


def _source_key_not_accessible(key_id: str) -> Exception:
    return rds_exceptions.RDSClientError(
        "KMSKeyNotAccessibleFault",
        f"The source snapshot KMS key [{key_id}] does not exist, is not enabled or you do not have permissions to access it.")


def _fix_share_needs_customer_key() -> None:
    """A snapshot encrypted with an AWS managed key (`aws/rds`, which no key policy can open to another account) is
    of no use to the accounts it is shared with: their restore or copy of it fails with KMSKeyNotAccessibleFault, as
    reported for RDS (awslabs/aurora-snapshot-tool#26; the console refuses to share such a snapshot at all). moto
    restores it. An encrypted cluster created without KmsKeyId (moto's placeholder key) counts as on `aws/rds`."""

    def fix(backend: Any, identifier: str, key_id: str, key: Any, snapshot: Any) -> None:
        if key is None or getattr(key, "key_manager", "CUSTOMER") == "AWS":
            raise _source_key_not_accessible(key_id)

    _foreign_encrypted_use(fix)


def _fix_shared_key_policy() -> None:
    """Restoring or copying another account's snapshot needs its customer managed key's policy to let the caller's
    account use the key through RDS (kms:CreateGrant for RDS, with kms:ViaService rds.<region>, kms:CallerAccount);
    else RDS answers KMSKeyNotAccessibleFault. moto reads no key policy there (it only honours Deny statements on
    a few KMS calls)."""

    def fix(backend: Any, identifier: str, key_id: str, key: Any, snapshot: Any) -> None:
        if key is None or getattr(key, "key_manager", "CUSTOMER") == "AWS":
            return  # share-needs-customer-key's case
        if key.key_state != "Enabled" or key.region != backend.region_name:
            raise _source_key_not_accessible(key_id)
        context = {
            "kms:viaservice": f"rds.{backend.region_name}.amazonaws.com",
            "kms:calleraccount": backend.account_id,
            "kms:grantisforawsresource": "true",
        }
        if not _policy_allows(key.policy, "kms:CreateGrant", backend.account_id, [], context):
            raise _source_key_not_accessible(key_id)

    _foreign_encrypted_use(fix)


EMULATOR_FIXES = {
    "account-attributes": _fix_account_attributes,
    "snapshot-arn-as-identifier": _fix_snapshot_arn_as_identifier,
    "restore-deletion-protection": _fix_restore_deletion_protection,
    "automated-snapshot-name-collision": _fix_automated_snapshot_collision,
    "failed-modify-keeps-cluster": _fix_failed_modify_loses_cluster,
    "copy-kms-key-of-unencrypted-snapshot": _fix_copy_kms_key_of_unencrypted_snapshot,
    "stopped-cluster-cannot-be-deleted": _fix_stopped_cluster_cannot_be_deleted,
    "restore-with-kms-key-encrypts": _fix_restore_with_kms_key_encrypts,
    "rename-onto-existing-cluster": _fix_rename_onto_existing_cluster,
    "rename-keeps-instances": _fix_rename_keeps_instances,
    "rename-reports-renaming": _fix_rename_reports_renaming,
    "assume-role-trust": _fix_assume_role_trust,
    "shared-snapshot-arn": _fix_shared_snapshot_arn,
    "share-needs-customer-key": _fix_share_needs_customer_key,
    "shared-key-policy": _fix_shared_key_policy,
}


def _cluster_credentials(body: Dict[str, Any]) -> Dict[str, Any]:
    identifier, region = body.get("id"), body.get("region")
    if not isinstance(identifier, str) or not identifier or not isinstance(region, str) or not region:
        raise ValueError(f"need a non-empty id and region, got id={identifier!r} region={region!r}")
    backend = rds_models.rds_backends[body.get("account") or DEFAULT_ACCOUNT_ID][region]
    cluster = backend.clusters.get(identifier)
    if cluster is None:
        return {"found": False}
    # DBCluster.master_user_password refuses to be read; the value lives in the instance's dict.
    return {
        "found": True,
        "masterUsername": cluster.master_username,
        "masterUserPassword": cluster.__dict__.get("_master_user_password"),
    }


def _account_credentials(body: Dict[str, Any]) -> Dict[str, Any]:
    """An access key of an administrator user (`harness-admin`) of `account`, created on first use: how a test acts in
    another account than moto's default one (moto tells accounts apart by the access key), as an operator of that
    account would, without assuming any role."""
    from moto.iam.models import iam_backends

    account = body.get("account")
    if not isinstance(account, str) or len(account) != 12 or not account.isdigit():
        raise ValueError(f"need a 12-digit account, got {account!r}")
    iam = iam_backends[account]["aws"]
    if "harness-admin" not in iam.users:
        iam.create_user(region_name="us-east-1", user_name="harness-admin")
    keys = iam.users["harness-admin"].access_keys
    key = keys[0] if keys else iam.create_access_key("harness-admin")
    return {"accessKeyId": key.access_key_id, "secretAccessKey": key.secret_access_key}


def _aws_managed_key(body: Dict[str, Any]) -> Dict[str, Any]:
    """The AWS managed key `alias/aws/<service>` of an account and region. moto makes one on first use of the alias,
    but as a customer managed key; this one reports KeyManager AWS, as AWS does."""
    from moto.kms.models import kms_backends

    account, region, service = body.get("account") or DEFAULT_ACCOUNT_ID, body.get("region"), body.get("service", "rds")
    if not isinstance(region, str) or not region:
        raise ValueError(f"need a region, got {region!r}")
    kms = kms_backends[account][region]
    key_id = kms.get_key_id_from_alias(f"alias/aws/{service}")
    if key_id is None:
        raise ValueError(f"moto knows no AWS managed key alias/aws/{service}")
    key = kms.keys[key_id]
    key.key_manager = "AWS"
    return {"keyId": key.id, "arn": key.arn}


def _json_response(start_response: Callable, status: str, body: Any):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _list_overrides() -> Dict[str, Any]:
    with _lock:
        return {
            kind: [dict(o, id=key[0], region=key[1]) for key, o in table.items()]
            for kind, table in _overrides.items()
        }


class ControlApp:
    """WSGI middleware: `/_harness/*` here, everything else to moto."""

    def __init__(self, moto_app: Any):
        self.moto_app = moto_app

    def __call__(self, environ: Dict[str, Any], start_response: Callable):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_harness/"):
            return self.moto_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            body = json.loads(raw) if raw else {}
            return self.handle(environ["REQUEST_METHOD"], path, body, start_response)
        except Exception as e:  # the caller is a test: tell it what went wrong
            return _json_response(start_response, "400 Bad Request", {"error": f"{type(e).__name__}: {e}"})

    def handle(self, method: str, path: str, body: Dict[str, Any], start_response: Callable):
        if method == "GET" and path == "/_harness/overrides":
            return _json_response(start_response, "200 OK", _list_overrides())
        if method == "POST" and path == "/_harness/override":
            kind, identifier = body.get("kind"), body.get("id")
            if kind not in KINDS or not isinstance(identifier, str) or not identifier:
                raise ValueError(f"need kind in {KINDS} and a non-empty id, got kind={kind!r} id={identifier!r}")
            fields = {k: v for k, v in body.items() if k not in ("kind", "id", "region")}
            if not fields:
                raise ValueError("nothing to override: give status, percentProgress, endpoint, readerEndpoint, port "
                                 "or pendingModifiedValues")
            with _lock:
                _overrides[kind][(identifier.lower(), body.get("region"))] = fields
            return _json_response(start_response, "200 OK", _list_overrides())
        if method == "POST" and path == "/_harness/quota":
            name = body.get("name")
            if name not in DEFAULT_QUOTAS:
                raise ValueError(f"name must be one of {sorted(DEFAULT_QUOTAS)}, got {name!r}")
            values = {k: int(body[k]) for k in ("used", "max") if body.get(k) is not None}
            if not values:
                raise ValueError("give used and/or max")
            with _lock:
                _quotas[(name, body.get("region"))] = values
            return _json_response(start_response, "200 OK", {"quotas": [dict(v, name=k[0], region=k[1]) for k, v in _quotas.items()]})
        if method == "POST" and path == "/_harness/cluster-credentials":
            return _json_response(start_response, "200 OK", _cluster_credentials(body))
        if method == "POST" and path == "/_harness/account-credentials":
            return _json_response(start_response, "200 OK", _account_credentials(body))
        if method == "POST" and path == "/_harness/aws-managed-key":
            return _json_response(start_response, "200 OK", _aws_managed_key(body))
        if method == "POST" and path == "/_harness/release":
            with _lock:
                if body.get("kind") is None:
                    for table in _overrides.values():
                        table.clear()
                    _quotas.clear()
                else:
                    if body["kind"] not in KINDS:
                        raise ValueError(f"kind must be one of {KINDS}")
                    _overrides[body["kind"]].pop((str(body.get("id", "")).lower(), body.get("region")), None)
            return _json_response(start_response, "200 OK", _list_overrides())
        return _json_response(start_response, "404 Not Found", {"error": f"no such control route: {method} {path}"})


class HarnessMotoServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer with the control API in front of the moto app."""

    def _server_entry(self) -> None:
        app = ControlApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    without = set()
    for arg in sys.argv[1:]:
        if arg.startswith("--without-fix="):
            without.update(name for name in arg.split("=", 1)[1].split(",") if name)
        else:
            raise SystemExit(f"unknown argument {arg!r}; the only option is --without-fix=NAME[,NAME]")
    unknown = without - set(EMULATOR_FIXES)
    if unknown:
        raise SystemExit(f"unknown fix {sorted(unknown)}; known: {sorted(EMULATOR_FIXES)}")
    _patch_reported_values()
    applied = [name for name in sorted(EMULATOR_FIXES) if name not in without]
    for name in applied:
        EMULATOR_FIXES[name]()

    server = HarnessMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    sys.stdout.write(json.dumps({"host": host, "port": port, "fixes": applied}) + "\n")
    sys.stdout.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_stdin() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
