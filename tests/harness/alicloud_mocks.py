"""What the Alibaba Cloud provider would answer, for the Pulumi SDK mocks: resource ids and the
computed properties the program reads (addresses, SNAT table, the OSS AccessKey's secret), and the
invokes it makes (zones, cluster credential, caller identity, current region). Shapes follow
pulumi-alicloud 4.x."""

from __future__ import annotations

import re
from typing import Any

NETWORK = "alicloud:vpc/network:Network"
VSWITCH = "alicloud:vpc/switch:Switch"
NAT = "alicloud:vpc/natGateway:NatGateway"
EIP = "alicloud:ecs/eipAddress:EipAddress"
SNAT = "alicloud:vpc/snatEntry:SnatEntry"
CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
SLB = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer"
ACL = "alicloud:slb/acl:Acl"
ZONES_INVOKE = "alicloud:vpc/getEnhancedNatAvailableZones:getEnhancedNatAvailableZones"
VSWITCH_ZONES_INVOKE = "alicloud:index/getZones:getZones"
SLB_ZONES_INVOKE = "alicloud:slb/getZones:getZones"
ECI_ZONES_INVOKE = "alicloud:eci/getZones:getZones"
NETWORKS_INVOKE = "alicloud:vpc/getNetworks:getNetworks"
BUCKETS_INVOKE = "alicloud:oss/getBuckets:getBuckets"
# What the region offers, per service (cn-hangzhou-b lacks enhanced NAT, -h lacks a CLB, -k lacks ECI):
# every resource in the stack's zone is only possible in cn-hangzhou-j (and -k for ACS, which has no list).
NAT_ZONES = ["cn-hangzhou-k", "cn-hangzhou-j", "cn-hangzhou-h"]
VSWITCH_ZONES = ["cn-hangzhou-b", "cn-hangzhou-h", "cn-hangzhou-j", "cn-hangzhou-k"]
SLB_ZONES = ["cn-hangzhou-b", "cn-hangzhou-j", "cn-hangzhou-k"]
ECI_ZONES = ["cn-hangzhou-b", "cn-hangzhou-h", "cn-hangzhou-j"]
# Buckets this account already has (a scenario of a stack re-created after `destroy` kept its bucket adds one).
EXISTING_BUCKETS: set[str] = set()
# Existing VPCs the mocks know (the existing-network scenarios), by id.
EXISTING_VPCS = {"vpc-bp1existing": ("172.16.0.0/12", ["10.10.0.0/16"])}
CREDENTIAL_INVOKE = "alicloud:cs/getClusterCredential:getClusterCredential"
# Durable state on OSS (components/alicloud_state.py).
BUCKET = "alicloud:oss/bucket:Bucket"
BUCKET_ACL = "alicloud:oss/bucketAcl:BucketAcl"
BUCKET_PUBLIC_ACCESS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_OBJECT = "alicloud:oss/bucketObject:BucketObject"
RAM_USER = "alicloud:ram/user:User"
RAM_POLICY = "alicloud:ram/policy:Policy"
RAM_USER_POLICY_ATTACHMENT = "alicloud:ram/userPolicyAttachment:UserPolicyAttachment"
ACCESS_KEY = "alicloud:ram/accessKey:AccessKey"
CALLER_IDENTITY_INVOKE = "alicloud:index/getCallerIdentity:getCallerIdentity"
REGIONS_INVOKE = "alicloud:index/getRegions:getRegions"
ACCOUNT_ID = "1234567890123456"
REGION = "cn-hangzhou"
# The AccessKey's ID and secret as the provider returns them: tests look for them in plaintext.
ACCESS_KEY_ID = "LTAI5tMockKeyId7Q2w"
ACCESS_KEY_SECRET = "mock-oss-secret-3b9f6e2a-must-never-be-plaintext"

ID_PREFIX = {NETWORK: "vpc-bp1", VSWITCH: "vsw-bp1", NAT: "ngw-bp1", EIP: "eip-bp1", SNAT: "snat-",
             CLUSTER: "c5e2a1", SLB: "lb-bp1", ACL: "acl-bp1", RAM_USER: "2781"}
INTERNET_SLB_ADDRESS = "47.96.30.40"
INTRANET_SLB_ADDRESS = "192.168.0.77"


def resource_id(typ: str, name: str, inputs: dict[str, Any]) -> str:
    if typ == BUCKET:
        return str(inputs["bucket"])  # a bucket's id is its name
    if typ == RAM_POLICY:
        return str(inputs["policyName"])
    if typ == ACCESS_KEY:
        return ACCESS_KEY_ID
    return f"{ID_PREFIX.get(typ, '')}{name}"


def new_resource(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    state = dict(inputs)
    if typ == NAT:
        state["snatTableIds"] = "stb-bp1snat"
    elif typ == EIP:
        state["ipAddress"] = "47.96.10.20"
    elif typ == SLB:
        internet = inputs.get("addressType") == "internet"
        state["address"] = INTERNET_SLB_ADDRESS if internet else INTRANET_SLB_ADDRESS
    elif typ == CLUSTER:
        state |= {"vpcId": "vpc-from-vswitch", "securityGroupId": "sg-bp1ack", "name": "flink-hologres-dev-x"}
    elif typ == BUCKET:
        state |= {"intranetEndpoint": f"oss-{REGION}-internal.aliyuncs.com",
                  "extranetEndpoint": f"oss-{REGION}.aliyuncs.com", "location": f"oss-{REGION}",
                  "owner": ACCOUNT_ID, "creationDate": "2026-01-05"}
    elif typ == ACCESS_KEY:
        state |= {"secret": ACCESS_KEY_SECRET, "status": inputs.get("status", "Active")}
    return resource_id(typ, name, inputs), state


def kubeconfig_for(cluster_id: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://47.96.50.60:6443\n"
        "    certificate-authority-data: LS0tLS1CRUdJTg==\n  name: kubernetes\ncontexts:\n"
        f"- context:\n    cluster: kubernetes\n    user: '2088'\n  name: 2088-{cluster_id}\n"
        f"current-context: 2088-{cluster_id}\nusers:\n- name: '2088'\n  user:\n"
        "    client-certificate-data: LS0tLS1CRUdJTg==\n    client-key-data: LS0tLS1CRUdJTg==\n"
    )


def call(token: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """The invoke's answer, or None for a token this module does not know."""
    if token == ZONES_INVOKE:
        return {"id": REGION, "ids": NAT_ZONES, "zones": [{"zoneId": z, "localName": z} for z in NAT_ZONES]}
    if token == VSWITCH_ZONES_INVOKE:
        return {"id": REGION, "ids": VSWITCH_ZONES, "zones": [
            {"id": z, "localName": z, "availableResourceCreations": ["VSwitch"], "multiZoneIds": [],
             "availableInstanceTypes": [], "availableDiskCategories": [], "slbSlaveZoneIds": []}
            for z in VSWITCH_ZONES]}
    if token == SLB_ZONES_INVOKE:
        return {"id": REGION, "ids": SLB_ZONES, "zones": [
            {"id": z, "masterZoneId": z, "slaveZoneId": "", "localName": z, "slaveZoneIds": [],
             "supportedResources": [{"addressType": "Vpc", "addressIpVersion": "ipv4"}]} for z in SLB_ZONES]}
    if token == ECI_ZONES_INVOKE:
        return {"id": REGION, "zones": [{"regionEndpoint": f"eci.{REGION}.aliyuncs.com", "zoneIds": ECI_ZONES}]}
    if token == NETWORKS_INVOKE:
        vpcs = [{"id": i, "vpcId": i, "cidrBlock": EXISTING_VPCS[i][0], "secondaryCidrBlocks": EXISTING_VPCS[i][1]}
                for i in args.get("ids", []) if i in EXISTING_VPCS]
        return {"id": REGION, "ids": [v["id"] for v in vpcs], "names": [], "vpcs": vpcs}
    if token == BUCKETS_INVOKE:
        names = [b for b in sorted(EXISTING_BUCKETS) if re.fullmatch(args.get("nameRegex", ".*"), b)]
        return {"id": REGION, "names": names, "buckets": [{"id": b, "name": b} for b in names]}
    if token == CREDENTIAL_INVOKE:
        cluster_id = args["clusterId"]
        return {"id": cluster_id, "clusterId": cluster_id, "clusterName": "flink-hologres-dev-x",
                "kubeConfig": kubeconfig_for(cluster_id), "expiration": "2028-07-01T00:00:00Z",
                "certificateAuthorities": [{"clientCert": "LS0t", "clientKey": "LS0t", "clusterCert": "LS0t"}]}
    if token == CALLER_IDENTITY_INVOKE:
        return {"id": ACCOUNT_ID, "accountId": ACCOUNT_ID, "arn": f"acs:ram::{ACCOUNT_ID}:root",
                "identityType": "Account"}
    if token == REGIONS_INVOKE and args.get("current"):
        return {"id": REGION, "current": True, "ids": [REGION],
                "regions": [{"id": REGION, "regionId": REGION, "localName": "China (Hangzhou)"}]}
    return None
