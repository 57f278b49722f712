"""AlicloudStateStorage: durable Flink state (checkpoints, savepoints, HA metadata) on OSS, least privilege.

It declares an OSS bucket (private, encrypted, versioned, lifecycle rules for old checkpoints) or adopts
an existing bucket/prefix, and a RAM user whose only permission is that bucket/prefix, with an AccessKey
Flink's OSS file system (flink-oss-fs-hadoop, i.e. hadoop-aliyun) signs its requests with. It knows
nothing of Flink's configuration beyond the `fs.oss.*` options: the caller puts `flink_options` into the
Flink configuration and `secret_flink_options` into a Kubernetes Secret (FLINK_PROPERTIES), never into a
ConfigMap.

Credentials: an AccessKey, not RRSA. RRSA (`enable_rrsa` on cs.ManagedKubernetes) hands pods an OIDC
token to exchange through STS AssumeRoleWithOIDC, but flink-oss-fs-hadoop (1.20: hadoop-aliyun 3.3.4 with
aliyun-sdk-oss 3.13.2) has no credentials provider that performs that exchange; it would take a custom
`fs.oss.credentials.provider` jar in the plugin directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_alicloud as alicloud

from components.arguments import ArgumentError
from components.flink_state import DurableState

TYPE_TOKEN = "flink-hologres:alicloud:StateStorage"
DEFAULT_PREFIX = "flink"
Encryption = Literal["AES256", "KMS"]

# What hadoop-aliyun (inside flink-oss-fs-hadoop) sends, and the RAM action each needs:
#   HeadObject, GetObject (ranged reads)          -> oss:GetObject
#   PutObject, multipart Initiate/UploadPart/
#   Complete, CopyObject / UploadPartCopy (rename) -> oss:PutObject (a copy also needs oss:GetObject)
#   DeleteObject, DeleteMultipleObjects            -> oss:DeleteObject
#   AbortMultipartUpload (failed upload or copy)   -> oss:AbortMultipartUpload
#   ListObjects / ListObjectsV2 (listing, isDir)   -> oss:ListObjects, on the bucket
# oss:ListParts: Flink's recoverable writer for OSS resumes multipart uploads from their parts.
# Not granted: oss:GetBucketInfo (neither hadoop-aliyun nor the SDK client calls it) and
# oss:PutBucketAcl (only called when `fs.oss.acl.default` is set, which must stay unset).
OBJECT_ACTIONS = ("oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload",
                  "oss:ListParts")
LIST_ACTIONS = ("oss:ListObjects",)
KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")

# OSS bucket names: 3-63 characters, lowercase letters, digits and hyphens, a letter or digit at each end.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+$")


@dataclass(frozen=True, kw_only=True)
class StateStorageArgs:
    project: str
    stack: str
    # Everything Flink writes lives under oss://<bucket>/<prefix>/ (checkpoints/, savepoints/, ha/).
    prefix: str = DEFAULT_PREFIX
    # `pulumi destroy` empties and deletes the bucket (true) or leaves it and its savepoints (false).
    drop_on_destroy: bool = False
    # Use this bucket (it must exist, in the provider's region unless `endpoint` says otherwise)
    # instead of creating one; only the RAM user, its policy and key are created for it.
    existing_bucket: str | None = None
    # fs.oss.endpoint; by default the intranet endpoint of the provider's region (pods sit in the VPC).
    endpoint: str | None = None
    encryption: Encryption = "AES256"
    kms_key_id: str | None = None  # with encryption KMS: a customer key (else OSS's default KMS key)
    # Current objects under <prefix>/checkpoints/ older than this are deleted (None: never). Checkpoints
    # of a running job are rewritten every interval; what ages out is what cancelled or failed jobs left.
    # Incremental RocksDB checkpoints keep reusing old files under shared/: with them, use None.
    checkpoint_expiration_days: int | None = 30
    # Deleted or overwritten objects (versioning keeps them) are purged this long after, savepoints too:
    # the window to undo an accidental delete.
    noncurrent_version_expiration_days: int = 7
    abort_multipart_upload_days: int = 7

    def __post_init__(self) -> None:
        prefix = self.prefix.strip("/")
        # Problems name arguments as {field}; the settings word them with the config keys (settings_cloud).
        if not _PREFIX.match(prefix):
            raise ArgumentError("prefix", f"prefix '{self.prefix}' is not a path such as flink or team/flink")
        object.__setattr__(self, "prefix", prefix)
        if self.existing_bucket is not None and not _BUCKET.match(self.existing_bucket):
            raise ArgumentError("existing_bucket", f"'{self.existing_bucket}' is not an OSS bucket name")
        if self.existing_bucket and self.drop_on_destroy:
            raise ArgumentError("drop_on_destroy", f"the program does not own bucket {self.existing_bucket}, so "
                                "destroy never deletes it", suggestion="false")
        if self.kms_key_id and self.encryption != "KMS":
            raise ValueError("kms_key_id needs encryption='KMS'")
        for name in ("checkpoint_expiration_days", "noncurrent_version_expiration_days",
                     "abort_multipart_upload_days"):
            days = getattr(self, name)
            if days is not None and days < 1:
                raise ValueError(f"{name} must be at least 1 day, got {days}")

    @property
    def tags(self) -> dict[str, str]:
        return {"project": self.project, "stack": self.stack, "managed-by": "pulumi"}


# --- pure helpers ----------------------------------------------------------------------------------


def uses_oss(state_storage: str | None) -> bool:
    """Whether `stateStorage` asks for OSS: unset, `oss`, or an oss:// URI."""
    value = (state_storage or "").strip()
    return value in ("", "oss") or value.lower().startswith("oss://")


def parse_oss_uri(uri: str) -> tuple[str, str]:
    """oss://bucket/prefix → (bucket, prefix); the prefix defaults to `flink`."""
    match = re.match(r"^oss://([^/]+)/*(.*)$", uri.strip(), re.IGNORECASE)
    if not match or not _BUCKET.match(match[1]):
        raise ArgumentError("existing_bucket", f"'{uri}' is not oss://<bucket>/<prefix>")
    return match[1], match[2].strip("/") or DEFAULT_PREFIX


def intranet_endpoint(region: str) -> str:
    """OSS's endpoint for clients inside a VPC of `region` (no traffic charge, no internet)."""
    if not _REGION.match(region):
        raise ValueError(f"'{region}' is not an Alibaba Cloud region id such as cn-hangzhou")
    return f"oss-{region}-internal.aliyuncs.com"


def resource_name(*, project: str, stack: str, account_id: str, region: str) -> str:
    """A bucket (and RAM user/policy) name unique to account, region, project and stack, ≤ 63 characters.

    OSS bucket names are global across all accounts, so a readable project-stack part gets a suffix
    derived from the account and region. A hash rather than the account id itself: bucket names are
    public (they are DNS names), account ids need not be.
    """
    digest = hashlib.sha256(f"{account_id}:{region}:{project}:{stack}".encode()).hexdigest()[:10]
    suffix = f"-state-{digest}"
    readable = re.sub(r"[^a-z0-9]+", "-", f"{project}-{stack}".lower()).strip("-")
    readable = readable[: 63 - len(suffix)].rstrip("-") or "flink"
    return readable + suffix


def policy_document(*, bucket: str, prefix: str, account_id: str, kms_key_arn: str | None = None) -> dict[str, Any]:
    """RAM policy: objects under <prefix>/ of this one bucket, listing only below that prefix."""
    bucket_arn = f"acs:oss:*:{account_id}:{bucket}"
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": list(LIST_ACTIONS), "Resource": [bucket_arn],
         "Condition": {"StringLike": {"oss:Prefix": [f"{prefix}/*"]}}},
        {"Effect": "Allow", "Action": list(OBJECT_ACTIONS), "Resource": [f"{bucket_arn}/{prefix}/*"]},
    ]
    if kms_key_arn:
        statements.append({"Effect": "Allow", "Action": list(KMS_ACTIONS), "Resource": [kms_key_arn]})
    return {"Version": "1", "Statement": statements}


def encryption_rule(args: StateStorageArgs) -> dict[str, str]:
    rule = {"sse_algorithm": args.encryption}
    return rule | {"kms_master_key_id": args.kms_key_id} if args.kms_key_id else rule


def lifecycle_rules(args: StateStorageArgs) -> list[dict[str, Any]]:
    """Old checkpoints expire; deleted/overwritten versions, dead delete markers and stale uploads go.

    Current savepoints and HA metadata never expire. With dropStateOnDestroy the bucket is to be emptied by
    the provider's `force_destroy`, which deletes one page (≤ 1000) of object versions per retry for at most
    5 minutes and never aborts multipart uploads (resourceAlicloudOssBucketDelete, v1.285.0), while OSS
    refuses to delete a bucket that still holds parts: the whole bucket then purges noncurrent versions and
    aborts stale uploads after one day, so destroy finds only current objects and no old parts.
    """
    rules: list[dict[str, Any]] = []
    drop = args.drop_on_destroy
    if args.checkpoint_expiration_days:
        rules.append({"id": "expire-old-checkpoints", "enabled": True, "prefix": f"{args.prefix}/checkpoints/",
                      "expirations": [{"days": args.checkpoint_expiration_days}]})
    rules.append({
        "id": "purge-noncurrent-versions", "enabled": True, "prefix": "" if drop else f"{args.prefix}/",
        "noncurrent_version_expirations": [{"days": 1 if drop else args.noncurrent_version_expiration_days}],
        "expirations": [{"expired_object_delete_marker": True}],
        "abort_multipart_uploads": [{"days": 1 if drop else args.abort_multipart_upload_days}],
    })
    return rules


@dataclass(frozen=True)
class StoragePlan:
    """What is known before anything is created: plain values for inputs that cannot take an Output
    (the Flink configuration the session cluster renders, the plugin it enables)."""

    bucket: str
    prefix: str
    region: str
    account_id: str
    endpoint: str
    identity_name: str  # the RAM user's and its policy's name

    @property
    def base_uri(self) -> str:
        return f"oss://{self.bucket}/{self.prefix}"

    @property
    def flink_options(self) -> dict[str, str]:
        return {"fs.oss.endpoint": self.endpoint}


def user_comments(*, project: str, stack: str) -> str:
    """The RAM user's description: `comments` allows 128 characters (resource_alicloud_ram_user.go)."""
    return f"Flink state writer of {project}/{stack}, managed by Pulumi"[:128]


def plan_storage(args: StateStorageArgs, *, account_id: str, region: str) -> StoragePlan:
    name = resource_name(project=args.project, stack=args.stack, account_id=account_id, region=region)
    return StoragePlan(bucket=args.existing_bucket or name, prefix=args.prefix, region=region,
                       account_id=account_id, endpoint=args.endpoint or intranet_endpoint(region),
                       identity_name=name)


def bucket_exists(bucket: str, opts: pulumi.InvokeOptions) -> bool:
    """Whether this account already has `bucket` (a name OSS keeps global, so only ours can match)."""
    found = alicloud.oss.get_buckets(name_regex=f"^{bucket}$", opts=opts)  # bucket names hold no metacharacters
    return bucket in found.names


README = """\
Apache Flink state of {project}/{stack}, written by Flink's OSS file system as a least-privilege RAM user.
  checkpoints/  periodic checkpoints (old ones expire by lifecycle rule)
  savepoints/   savepoints: restore a pipeline with `jobUpgradeMode: savepoint` and the job's savepoint path
  ha/           JobManager high-availability metadata
Managed by Pulumi; `pulumi destroy` keeps this data unless dropStateOnDestroy is true.
"""


# --- the component ---------------------------------------------------------------------------------


class AlicloudStateStorage(pulumi.ComponentResource):
    """OSS bucket (or an existing one) plus a RAM user, policy and AccessKey scoped to its prefix."""

    bucket_name: pulumi.Output[str]
    base_uri: pulumi.Output[str]  # oss://<bucket>/<prefix>
    endpoint: pulumi.Output[str]
    user_name: pulumi.Output[str]
    access_key_id: pulumi.Output[str]  # secret
    access_key_secret: pulumi.Output[str]  # secret
    flink_options: pulumi.Output[dict[str, str]]  # fs.oss.endpoint
    secret_flink_options: pulumi.Output[dict[str, str]]  # secret: fs.oss.accessKeyId / accessKeySecret
    durable_state: DurableState
    plan: StoragePlan

    def __init__(self, name: str, *, args: StateStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags

        # Plain (synchronous) invokes: the bucket name and endpoint are then known while the program
        # runs, so the Flink configuration can be rendered from them. Through this component's provider.
        invoke = pulumi.InvokeOptions(parent=self)
        account_id = alicloud.get_caller_identity(opts=invoke).account_id
        region = alicloud.get_regions(current=True, opts=invoke).ids[0]
        self.plan = plan = plan_storage(args, account_id=account_id, region=region)

        # Destroy semantics. With dropStateOnDestroy false, the bucket and its configuration carry the
        # `retain_on_delete` resource option: `pulumi destroy` (or a replacement) drops them from the state
        # and leaves them in the cloud, savepoints included; a later stack adopts the bucket with
        # `stateStorage: oss://<bucket>/<prefix>` (or `pulumi import`). With it true, `force_destroy` lets
        # the provider empty the bucket (all versions) so it can be deleted. Both are read from the
        # state at destroy time: after changing dropStateOnDestroy, run `pulumi up` before `pulumi destroy`.
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=not args.drop_on_destroy)
        # `destroy` then `up` on the same stack: the kept bucket (same derived name) still exists and a new
        # one cannot be created under its name. It is adopted instead: `import_` with the bucket's id (its
        # name) makes the engine import it rather than create it, savepoints untouched, and then update it to
        # the program's inputs. Once in the state the option is inert (pulumi/pulumi step_generator.go: an
        # import only happens when the old state's ID differs), and it makes a replacement an error rather
        # than a delete of the bucket.
        adopt = not args.existing_bucket and bucket_exists(plan.bucket, invoke)
        if args.existing_bucket:
            bucket_name: pulumi.Output[str] = pulumi.Output.from_input(plan.bucket)
            marker_opts = pulumi.ResourceOptions(parent=self, retain_on_delete=True)  # not our bucket
        else:
            bucket = alicloud.oss.Bucket(
                f"{name}-bucket",
                bucket=plan.bucket,
                storage_class="Standard",
                # ForceNew and read back from the bucket: pinned rather than left to the provider's default.
                redundancy_type="LRS",
                server_side_encryption_rule=encryption_rule(args),
                # Versioning: a deleted or overwritten savepoint stays recoverable until the
                # noncurrent-version rule purges it. Suspended when the state is to be dropped anyway: new
                # writes then replace objects instead of piling up versions for force_destroy to page through.
                versioning={"status": "Suspended" if args.drop_on_destroy else "Enabled"},
                lifecycle_rules=lifecycle_rules(args),
                # Both rules carry an Expiration (days vs. dead delete markers) on overlapping prefixes.
                lifecycle_rule_allow_same_action_overlap=True,
                force_destroy=args.drop_on_destroy,
                tags=tags,
                opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(import_=plan.bucket if adopt else None)),
            )
            bucket_name = bucket.bucket  # type: ignore[assignment]  # resolves once the bucket exists
            # Separate resources: the Bucket's own `acl` is deprecated in the provider.
            alicloud.oss.BucketAcl(f"{name}-acl", bucket=bucket.bucket, acl="private", opts=keep)
            alicloud.oss.BucketPublicAccessBlock(f"{name}-public-access-block", bucket=bucket.bucket,
                                                 block_public_access=True, opts=keep)
            marker_opts = keep

        # One object under the prefix makes it a directory to hadoop-aliyun. Creating a directory, it
        # walks up the parents until one exists; without this object it would list the prefix's parent,
        # which the policy does not allow (a nested prefix such as team/flink would fail).
        alicloud.oss.BucketObject(f"{name}-readme", bucket=bucket_name, key=f"{plan.prefix}/README.txt",
                                  content=README.format(project=args.project, stack=args.stack),
                                  content_type="text/plain", opts=marker_opts)

        # --- least-privilege identity ---
        kms_key_arn = (f"acs:kms:{region}:{account_id}:key/{args.kms_key_id}" if args.kms_key_id else None)
        user = alicloud.ram.User(
            f"{name}-user", name=plan.identity_name, display_name=plan.identity_name,
            comments=user_comments(project=args.project, stack=args.stack),
            force=True,  # destroy removes it even if someone attached more keys or policies by hand
            tags=tags, opts=child)
        policy = alicloud.ram.Policy(
            f"{name}-policy", policy_name=plan.identity_name,
            policy_document=json.dumps(policy_document(bucket=plan.bucket, prefix=plan.prefix,
                                                       account_id=account_id, kms_key_arn=kms_key_arn)),
            description=f"Flink state: objects under {plan.base_uri}/ only",
            rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",  # updates never hit the 5-version cap
            force=True, tags=tags, opts=child)
        attachment = alicloud.ram.UserPolicyAttachment(
            f"{name}-policy-attachment", user_name=user.name, policy_name=policy.policy_name,
            policy_type="Custom", opts=child)
        # No pgp_key (Flink needs the secret itself) and no secret_file (it would write the secret to disk).
        # The provider marks `secret` secret; the key id (also the resource id) is wrapped below.
        key = alicloud.ram.AccessKey(f"{name}-access-key", user_name=user.name, status="Active", opts=child)

        # Credentials are handed out only once the policy is attached: whoever consumes them depends on it.
        credentials = pulumi.Output.all(key.id, key.secret, attachment.id)
        self.access_key_id = pulumi.Output.secret(credentials.apply(lambda c: c[0]))
        self.access_key_secret = pulumi.Output.secret(credentials.apply(lambda c: c[1]))
        self.secret_flink_options = pulumi.Output.secret(credentials.apply(
            lambda c: {"fs.oss.accessKeyId": c[0], "fs.oss.accessKeySecret": c[1]}))
        self.bucket_name = bucket_name
        self.base_uri = bucket_name.apply(lambda b: f"oss://{b}/{plan.prefix}")
        self.endpoint = pulumi.Output.from_input(plan.endpoint)
        self.flink_options = pulumi.Output.from_input(plan.flink_options)
        self.user_name = user.name  # type: ignore[assignment]
        # What the Flink session cluster takes: the location, its scheme and the options it implies.
        self.durable_state = DurableState(scheme="oss", location=self.base_uri, options=self.flink_options,
                                          secret_options=self.secret_flink_options)

        self.register_outputs(self.outputs)

    @property
    def outputs(self) -> Mapping[str, pulumi.Output[Any]]:
        return {"bucket_name": self.bucket_name, "base_uri": self.base_uri, "endpoint": self.endpoint,
                "user_name": self.user_name, "access_key_id": self.access_key_id,
                "access_key_secret": self.access_key_secret, "flink_options": self.flink_options,
                "secret_flink_options": self.secret_flink_options}
