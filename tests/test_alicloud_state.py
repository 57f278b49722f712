"""Durable Flink state on OSS under Pulumi's own SDK mocks: the bucket, the least-privilege RAM identity,
and the credentials that must stay secret.

Each scenario runs the component in a fresh interpreter (this file, run as a script, through
tests/harness/component_mocks.py). The mocked provider returns a sentinel AccessKey id and secret
(tests/harness/alicloud_mocks.py), so the tests can look for them in plaintext anywhere.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from tests.harness import alicloud_mocks as cloud
from tests.harness import component_mocks
from tests.harness.component_mocks import Graph

COMPONENT = "flink-hologres:alicloud:StateStorage"
TAGS = {"project": "flink-hologres", "stack": "dev", "managed-by": "pulumi"}
ENDPOINT = "oss-cn-hangzhou-internal.aliyuncs.com"
OUTPUT_ATTRS = ("bucket_name", "base_uri", "endpoint", "user_name", "access_key_id", "access_key_secret",
                "flink_options", "secret_flink_options")

SCENARIOS: dict[str, dict[str, Any]] = {
    "created": {},
    "created-dropped": {"drop_on_destroy": True, "prefix": "/state/flink/", "encryption": "KMS",
                        "kms_key_id": "key-hzz6a4b3c2d1", "checkpoint_expiration_days": None,
                        "noncurrent_version_expiration_days": 3},
    # `destroy` kept the bucket, then `up` again on the same stack: the bucket of that name exists.
    "recreated-after-destroy": {"__existing_buckets__": ["flink-hologres-dev-state-caec48ec70"]},
    "existing": {"existing_bucket": "team-shared-state", "prefix": "teams/orders/flink",
                 "endpoint": "oss-cn-shanghai-internal.aliyuncs.com"},
}


# --- the child: one scenario under the mocks -------------------------------------------------------


def _child(scenario: dict[str, Any]) -> dict[str, Any]:
    import pulumi

    recording = component_mocks.install()
    from components.alicloud_state import AlicloudStateStorage, StateStorageArgs
    from tests.harness import alicloud_mocks

    scenario = dict(scenario)
    alicloud_mocks.EXISTING_BUCKETS.update(scenario.pop("__existing_buckets__", []))

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        storage = AlicloudStateStorage("state", args=StateStorageArgs(project="flink-hologres", stack="dev",
                                                                     **scenario))

        async def collect() -> None:
            recording.outputs.update(await component_mocks.resolve(storage, OUTPUT_ATTRS))
            recording.outputs["plan"] = {"value": {"base_uri": storage.plan.base_uri,
                                                   "flink_options": storage.plan.flink_options}}
            recording.outputs["depends_on"] = {"value": {
                attr: [await r.urn.future() for r in await getattr(storage, attr).resources()]
                for attr in ("access_key_id", "access_key_secret", "secret_flink_options")}}

        return pulumi.Output.from_input(collect())

    program()
    return component_mocks.as_dict(recording)


runs, graph = component_mocks.scenario_fixtures(__file__, SCENARIOS)


def bucket_of(graph: Graph) -> str:
    return graph.value("bucket_name")


def policy_of(graph: Graph) -> dict[str, Any]:
    return json.loads(graph.one(cloud.RAM_POLICY)["inputs"]["policyDocument"])


# --- a small evaluator of RAM policies (Allow statements, wildcards, StringLike) ---------------------


def allows(policy: dict[str, Any], action: str, resource: str, prefix: str | None = None) -> bool:
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        if not any(fnmatch.fnmatchcase(action, a) for a in statement["Action"]):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"]):
            continue
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"StringLike"}, conditions
        like = conditions.get("StringLike", {})
        if "oss:Prefix" in like and (prefix is None or not any(
                fnmatch.fnmatchcase(prefix, p) for p in like["oss:Prefix"])):
            continue
        return True
    return False


# --- every scenario --------------------------------------------------------------------------------


def test_every_resource_is_a_child_of_the_component(graph: Graph) -> None:
    component = graph.one(COMPONENT)
    children = graph.children_of(COMPONENT)
    assert len(children) >= 5
    for resource in children:
        assert resource["parent"] == component["urn"], resource["name"]


def test_the_component_registers_its_outputs(graph: Graph) -> None:
    component = graph.one(COMPONENT)
    registered = [r["outputs"] for r in graph.registered_outputs if r["urn"] == component["urn"]]
    assert len(registered) == 1
    assert set(registered[0]) == set(OUTPUT_ATTRS)
    assert registered[0]["base_uri"] == graph.value("base_uri")


def test_region_and_account_come_from_the_provider(graph: Graph) -> None:
    tokens = [(c["token"], c["args"]) for c in graph.calls if c["token"] != cloud.BUCKETS_INVOKE]
    assert sorted(tokens, key=str) == sorted([(cloud.CALLER_IDENTITY_INVOKE, {}),
                                              (cloud.REGIONS_INVOKE, {"current": True})], key=str)


def test_a_created_bucket_is_looked_up_first_and_a_fresh_one_is_created_not_imported(runs: dict[str, Graph]) -> None:
    graph = runs["created"]
    name = graph.one(cloud.BUCKET)["inputs"]["bucket"]
    assert [c["args"] for c in graph.calls if c["token"] == cloud.BUCKETS_INVOKE] == [{"nameRegex": f"^{name}$"}]
    assert graph.one(cloud.BUCKET)["import_id"] == ""
    assert not [c for c in runs["existing"].calls if c["token"] == cloud.BUCKETS_INVOKE]  # not ours to adopt


def test_the_policy_allows_only_objects_under_the_prefix_of_that_bucket(graph: Graph) -> None:
    policy, bucket = policy_of(graph), bucket_of(graph)
    prefix = graph.value("base_uri").split("/", 3)[3]
    bucket_arn = f"acs:oss:*:{cloud.ACCOUNT_ID}:{bucket}"
    assert policy["Version"] == "1"
    oss_statements = [s for s in policy["Statement"] if s["Action"][0].startswith("oss:")]
    assert oss_statements == [
        {"Effect": "Allow", "Action": ["oss:ListObjects"], "Resource": [bucket_arn],
         "Condition": {"StringLike": {"oss:Prefix": [f"{prefix}/*"]}}},
        {"Effect": "Allow",
         "Action": ["oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload",
                    "oss:ListParts"],
         "Resource": [f"{bucket_arn}/{prefix}/*"]},
    ]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in statement["Action"]), statement
    # What Flink's OSS file system does on a checkpoint, a savepoint and HA: allowed.
    for action in ("oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload"):
        assert allows(policy, action, f"{bucket_arn}/{prefix}/checkpoints/0f1e/chk-7/_metadata")
        assert allows(policy, action, f"{bucket_arn}/{prefix}/savepoints/savepoint-0f1e-aa/_metadata")
    assert allows(policy, "oss:ListObjects", bucket_arn, prefix=f"{prefix}/checkpoints/0f1e/")
    assert allows(policy, "oss:ListObjects", bucket_arn, prefix=f"{prefix}/")
    # Anything else: denied.
    other_arn = f"acs:oss:*:{cloud.ACCOUNT_ID}:someone-elses-bucket"
    assert not allows(policy, "oss:GetObject", f"{other_arn}/{prefix}/savepoints/x")
    assert not allows(policy, "oss:GetObject", f"{bucket_arn}/other/x")
    assert not allows(policy, "oss:GetObject", f"{bucket_arn}/{prefix}-sibling/x")
    assert not allows(policy, "oss:ListObjects", bucket_arn, prefix="")
    assert not allows(policy, "oss:ListObjects", bucket_arn, prefix=None)
    assert not allows(policy, "oss:ListObjects", bucket_arn, prefix="other/")
    assert not allows(policy, "oss:ListObjects", other_arn, prefix=f"{prefix}/")
    for action in ("oss:PutBucketAcl", "oss:DeleteBucket", "oss:PutBucketLifecycle", "oss:ListBuckets",
                   "oss:GetBucketInfo", "ram:CreateAccessKey", "kms:Decrypt"):
        assert not allows(policy, action, bucket_arn, prefix=f"{prefix}/"), action


def test_the_policy_is_attached_to_the_user_that_owns_the_key(graph: Graph) -> None:
    user, policy = graph.one(cloud.RAM_USER), graph.one(cloud.RAM_POLICY)
    attachment, key = graph.one(cloud.RAM_USER_POLICY_ATTACHMENT), graph.one(cloud.ACCESS_KEY)
    user_name = user["inputs"]["name"]
    assert attachment["inputs"] == {"userName": user_name, "policyName": policy["inputs"]["policyName"],
                                    "policyType": "Custom"}
    assert key["inputs"] == {"userName": user_name, "status": "Active"}  # no secretFile, no pgpKey
    assert user["urn"] in key["dependencies"] and policy["urn"] in attachment["dependencies"]
    assert graph.value("user_name") == user_name
    assert user_name == policy["inputs"]["policyName"]
    assert policy["inputs"]["rotateStrategy"] == "DeleteOldestNonDefaultVersionWhenLimitExceeded"
    for resource in (user, policy):
        assert resource["inputs"]["tags"] == TAGS
        assert resource["retain_on_delete"] is False  # the identity never outlives the stack


def test_credentials_are_secret_and_never_plaintext(graph: Graph) -> None:
    assert graph.outputs["access_key_id"] == {"value": cloud.ACCESS_KEY_ID, "secret": True}
    assert graph.outputs["access_key_secret"] == {"value": cloud.ACCESS_KEY_SECRET, "secret": True}
    assert graph.outputs["secret_flink_options"] == {"secret": True, "value": {
        "fs.oss.accessKeyId": cloud.ACCESS_KEY_ID, "fs.oss.accessKeySecret": cloud.ACCESS_KEY_SECRET}}
    component = graph.one(COMPONENT)
    registered = next(r["outputs"] for r in graph.registered_outputs if r["urn"] == component["urn"])
    plaintext = component_mocks.redacted({"inputs": [r["inputs"] for r in graph.resources],
                                          "registered": graph.registered_outputs})
    for sentinel in (cloud.ACCESS_KEY_SECRET, cloud.ACCESS_KEY_ID):
        assert sentinel not in plaintext
        # …while the registered outputs do carry them, inside secret markers.
        assert sentinel not in component_mocks.redacted(registered) and sentinel in json.dumps(registered)
    assert registered["access_key_secret"] == {component_mocks.SECRET: cloud.ACCESS_KEY_SECRET}


def test_credentials_wait_for_the_policy_attachment(graph: Graph) -> None:
    # Flink gets a key only when it can use it: whatever consumes the credentials depends on the attachment.
    attachment, key = graph.one(cloud.RAM_USER_POLICY_ATTACHMENT), graph.one(cloud.ACCESS_KEY)
    for attr in ("access_key_id", "access_key_secret", "secret_flink_options"):
        assert {attachment["urn"], key["urn"]} <= set(graph.value("depends_on")[attr]), attr


def test_flink_options_name_the_intranet_endpoint_and_nothing_secret(graph: Graph) -> None:
    endpoint = graph.value("endpoint")
    assert graph.outputs["flink_options"] == {"value": {"fs.oss.endpoint": endpoint}, "secret": False}
    assert graph.outputs["endpoint"]["secret"] is False
    assert graph.outputs["base_uri"] == {"value": graph.value("plan")["base_uri"], "secret": False}
    assert graph.value("plan")["flink_options"] == {"fs.oss.endpoint": endpoint}
    assert endpoint.endswith("-internal.aliyuncs.com")


def test_a_prefix_marker_makes_the_prefix_a_directory_without_listing_its_parent(graph: Graph) -> None:
    marker = graph.one(cloud.BUCKET_OBJECT)
    prefix = graph.value("base_uri").split("/", 3)[3]
    assert marker["inputs"]["bucket"] == bucket_of(graph)
    assert marker["inputs"]["key"] == f"{prefix}/README.txt"
    assert "savepoints/" in marker["inputs"]["content"]


# --- a bucket the program creates ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["created", "created-dropped"])
def test_created_bucket_is_private_encrypted_versioned_and_globally_unique(runs: dict[str, Graph],
                                                                           name: str) -> None:
    graph = runs[name]
    bucket = graph.one(cloud.BUCKET)
    inputs = bucket["inputs"]
    assert inputs["bucket"] == bucket_of(graph) == "flink-hologres-dev-state-" + _digest()
    assert len(inputs["bucket"]) <= 63 and cloud.ACCOUNT_ID not in inputs["bucket"]
    # Kept state is versioned; state to be dropped is not (see the dropStateOnDestroy test).
    assert inputs["versioning"] == {"status": "Enabled" if name == "created" else "Suspended"}
    assert inputs["storageClass"] == "Standard"
    assert inputs["tags"] == TAGS
    assert "acl" not in inputs and "policy" not in inputs  # deprecated in the provider: separate resources
    acl, block = graph.one(cloud.BUCKET_ACL), graph.one(cloud.BUCKET_PUBLIC_ACCESS_BLOCK)
    assert acl["inputs"] == {"bucket": inputs["bucket"], "acl": "private"}
    assert block["inputs"] == {"bucket": inputs["bucket"], "blockPublicAccess": True}
    assert bucket["urn"] in acl["dependencies"] and bucket["urn"] in block["dependencies"]
    assert graph.value("base_uri").startswith(f"oss://{inputs['bucket']}/")
    assert graph.value("endpoint") == ENDPOINT


def test_default_bucket_uses_aes256_and_expires_old_checkpoints(runs: dict[str, Graph]) -> None:
    graph = runs["created"]
    inputs = graph.one(cloud.BUCKET)["inputs"]
    assert inputs["serverSideEncryptionRule"] == {"sseAlgorithm": "AES256"}
    assert inputs["lifecycleRuleAllowSameActionOverlap"] is True
    assert inputs["lifecycleRules"] == [
        {"id": "expire-old-checkpoints", "enabled": True, "prefix": "flink/checkpoints/",
         "expirations": [{"days": 30}]},
        {"id": "purge-noncurrent-versions", "enabled": True, "prefix": "flink/",
         "noncurrentVersionExpirations": [{"days": 7}],
         "expirations": [{"expiredObjectDeleteMarker": True}],
         "abortMultipartUploads": [{"days": 7}]},
    ]
    # Current savepoints and HA metadata are never expired by any rule.
    for rule in inputs["lifecycleRules"]:
        if any("days" in e for e in rule.get("expirations", [])):
            assert rule["prefix"].startswith("flink/checkpoints/")
    assert graph.value("base_uri") == f"oss://{bucket_of(graph)}/flink"


def test_kms_bucket_grants_the_key_and_can_keep_every_checkpoint(runs: dict[str, Graph]) -> None:
    graph = runs["created-dropped"]
    inputs = graph.one(cloud.BUCKET)["inputs"]
    assert inputs["serverSideEncryptionRule"] == {"sseAlgorithm": "KMS", "kmsMasterKeyId": "key-hzz6a4b3c2d1"}
    assert [rule["id"] for rule in inputs["lifecycleRules"]] == ["purge-noncurrent-versions"]
    assert graph.value("base_uri") == f"oss://{bucket_of(graph)}/state/flink"  # normalised from /state/flink/
    # The state is dropped on destroy: the purge covers the whole bucket after one day, whatever the
    # configured 3 days (see test_drop_state_on_destroy_empties_and_deletes_the_bucket).
    assert inputs["lifecycleRules"][0]["noncurrentVersionExpirations"] == [{"days": 1}]
    kms = [s for s in policy_of(graph)["Statement"] if s["Action"][0].startswith("kms:")]
    assert kms == [{"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": [f"acs:kms:cn-hangzhou:{cloud.ACCOUNT_ID}:key/key-hzz6a4b3c2d1"]}]
    assert not allows(policy_of(runs["created"]), "kms:Decrypt", kms[0]["Resource"][0])


def test_destroy_keeps_the_bucket_and_its_savepoints_by_default(runs: dict[str, Graph]) -> None:
    graph = runs["created"]
    assert graph.one(cloud.BUCKET)["inputs"]["forceDestroy"] is False
    for type_ in (cloud.BUCKET, cloud.BUCKET_ACL, cloud.BUCKET_PUBLIC_ACCESS_BLOCK, cloud.BUCKET_OBJECT):
        assert graph.one(type_)["retain_on_delete"] is True, type_
        assert graph.one(type_)["protect"] is False  # destroy still succeeds
    for type_ in (cloud.RAM_USER, cloud.RAM_POLICY, cloud.RAM_USER_POLICY_ATTACHMENT, cloud.ACCESS_KEY):
        assert graph.one(type_)["retain_on_delete"] is False, type_


def test_drop_state_on_destroy_empties_and_deletes_the_bucket(runs: dict[str, Graph]) -> None:
    graph = runs["created-dropped"]
    bucket = graph.one(cloud.BUCKET)["inputs"]
    assert bucket["forceDestroy"] is True
    for resource in graph.children_of(COMPONENT):
        assert resource["retain_on_delete"] is False, resource["name"]
    # force_destroy pages through versions for 5 minutes and never aborts multipart uploads: no versions
    # piling up, and the whole bucket loses old versions and stale parts after a day.
    assert bucket["versioning"] == {"status": "Suspended"}
    purge = next(r for r in bucket["lifecycleRules"] if r["id"] == "purge-noncurrent-versions")
    assert purge["prefix"] == ""
    assert purge["noncurrentVersionExpirations"] == [{"days": 1}]
    assert purge["abortMultipartUploads"] == [{"days": 1}]


def test_a_re_created_stack_adopts_the_kept_bucket_with_its_savepoints(runs: dict[str, Graph]) -> None:
    graph = runs["recreated-after-destroy"]
    bucket = graph.one(cloud.BUCKET)
    # Imported, not created: OSS would refuse a second bucket of that name, and the savepoints stay.
    assert bucket["import_id"] == bucket["inputs"]["bucket"] == "flink-hologres-dev-state-caec48ec70"
    assert bucket["retain_on_delete"] is True
    # Everything else matches a fresh stack: same inputs, same configuration resources.
    fresh = runs["created"]
    assert bucket["inputs"] == fresh.one(cloud.BUCKET)["inputs"]
    assert sorted(r["type"] for r in graph.resources) == sorted(r["type"] for r in fresh.resources)


def test_the_ram_user_comment_fits_128_characters_for_any_stack_name() -> None:
    from components.alicloud_state import user_comments

    assert user_comments(project="flink-hologres", stack="dev") == \
        "Flink state writer of flink-hologres/dev, managed by Pulumi"
    assert len(user_comments(project="flink-hologres", stack="s" * 100)) == 128


# --- an existing bucket ----------------------------------------------------------------------------


def test_existing_bucket_is_used_not_created(runs: dict[str, Graph]) -> None:
    graph = runs["existing"]
    for type_ in (cloud.BUCKET, cloud.BUCKET_ACL, cloud.BUCKET_PUBLIC_ACCESS_BLOCK):
        assert not graph.all(type_), type_
    assert graph.outputs["bucket_name"] == {"value": "team-shared-state", "secret": False}
    assert graph.value("base_uri") == "oss://team-shared-state/teams/orders/flink"
    assert graph.value("endpoint") == "oss-cn-shanghai-internal.aliyuncs.com"  # the override
    policy = policy_of(graph)
    arn = f"acs:oss:*:{cloud.ACCOUNT_ID}:team-shared-state"
    assert allows(policy, "oss:PutObject", f"{arn}/teams/orders/flink/savepoints/x")
    assert not allows(policy, "oss:GetObject", f"{arn}/teams/orders/other/x")
    assert not allows(policy, "oss:ListObjects", arn, prefix="teams/")
    assert graph.one(cloud.BUCKET_OBJECT)["retain_on_delete"] is True  # the bucket is not ours to clean


# --- pure parts and argument guards (in process) ---------------------------------------------------


def _digest() -> str:
    import hashlib

    return hashlib.sha256(f"{cloud.ACCOUNT_ID}:cn-hangzhou:flink-hologres:dev".encode()).hexdigest()[:10]


def test_resource_names_fit_oss_rules_for_any_project_and_stack() -> None:
    from components.alicloud_state import _BUCKET, resource_name

    names = {resource_name(project="flink-hologres", stack=stack, account_id="1", region="cn-hangzhou")
             for stack in ("dev", "prod", "Feature_Branch.With.Dots", "x" * 80, "--")}
    assert len(names) == 5
    for name in names:
        assert _BUCKET.match(name) and len(name) <= 63, name
    assert resource_name(project="p", stack="dev", account_id="1", region="cn-hangzhou") != resource_name(
        project="p", stack="dev", account_id="2", region="cn-hangzhou")
    assert resource_name(project="p", stack="dev", account_id="1", region="cn-hangzhou") != resource_name(
        project="p", stack="dev", account_id="1", region="cn-beijing")


def test_state_storage_setting_maps_to_args() -> None:
    from types import SimpleNamespace

    from components.alicloud_state import parse_oss_uri, uses_oss
    from components.settings import ConfigError
    from components.settings_cloud import storage_args

    def settings(value: str | None, drop: bool = False) -> Any:
        return SimpleNamespace(project="flink-hologres", stack="prod", state_storage=value,
                               drop_state_on_destroy=drop)

    assert [uses_oss(v) for v in (None, "", "oss", "OSS://b/p", "s3://b/p", "hdfs:///flink")] == [
        True, True, True, True, False, False]
    created = storage_args(settings("oss", drop=True))
    assert (created.existing_bucket, created.prefix, created.drop_on_destroy) == (None, "flink", True)
    assert created.tags == {"project": "flink-hologres", "stack": "prod", "managed-by": "pulumi"}
    existing = storage_args(settings("oss://my-bucket/team/flink/"))
    assert (existing.existing_bucket, existing.prefix) == ("my-bucket", "team/flink")
    assert parse_oss_uri("oss://my-bucket") == ("my-bucket", "flink")
    with pytest.raises(ConfigError) as error:
        storage_args(settings("s3://b/p"))
    assert error.value.key == "stateStorage"


@pytest.mark.parametrize(("overrides", "key"), [
    ({"existing_bucket": "shared-bucket", "drop_on_destroy": True}, "dropStateOnDestroy"),
    ({"existing_bucket": "Bad_Bucket"}, "stateStorage"),
    ({"prefix": "a//b"}, "stateStorage"),
    ({"prefix": "/"}, "stateStorage"),
])
def test_args_refuse_what_the_storage_cannot_do(overrides: dict[str, Any], key: str) -> None:
    from components.alicloud_state import StateStorageArgs
    from components.settings import ConfigError
    from components.settings_cloud import storage_config_errors

    with pytest.raises(ConfigError) as error:  # the component's rule, worded for the stack config
        storage_config_errors(lambda: StateStorageArgs(project="p", stack="s", **overrides))
    assert error.value.key == key


@pytest.mark.parametrize("overrides", [{"kms_key_id": "key-1"}, {"checkpoint_expiration_days": 0}])
def test_args_refuse_inconsistent_tuning(overrides: dict[str, Any]) -> None:
    from components.alicloud_state import StateStorageArgs

    with pytest.raises(ValueError):
        StateStorageArgs(project="p", stack="s", **overrides)


def test_intranet_endpoint_per_region() -> None:
    from components.alicloud_state import intranet_endpoint

    assert intranet_endpoint("cn-hangzhou") == ENDPOINT
    assert intranet_endpoint("ap-southeast-1") == "oss-ap-southeast-1-internal.aliyuncs.com"
    with pytest.raises(ValueError):
        intranet_endpoint("oss-cn-hangzhou.aliyuncs.com")


if __name__ == "__main__":
    component_mocks.child_main(_child)
