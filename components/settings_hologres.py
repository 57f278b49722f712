"""The Hologres part of the settings: where the pods and this machine reach the instance, how (TLS, the
network path), which table, and the admin credentials as secret Outputs (never plain strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi

from components import hologres_names
from components.config_commands import HOLOGRES_PASSWORD, HOLOGRES_USER, config_set
from components.config_reader import ConfigError, _Reader, _validated

DEFAULT_TABLE = "public.order_details"
_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class HologresSettings:
    host: str
    port: int
    # Where the deploying machine reaches Hologres to manage the table (the VPC endpoint the job
    # uses is often unreachable from a laptop or CI); defaults to host/port.
    admin_host: str
    admin_port: int
    database: str
    table: str
    drop_table_on_destroy: bool
    # Secret Outputs: never plain strings anywhere in the program.
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    sslmode: str = "require"  # TLS on the admin connection (the AccessKey and the DDL)
    ssl_root_cert: str = ""  # the instance's CA certificate, for verify-ca / verify-full
    # How the pods reach `host`: same-vpc, vpc-endpoint, public or "" (the cluster is not ours to tell).
    network_path: str = ""
    warnings: list[str] = field(default_factory=list)


def _endpoint(read: _Reader, key: str, value: str) -> tuple[str, int]:
    match = _ENDPOINT.match(value)
    port = int(match["port"] or 80) if match else 0
    if not match or not 0 < port < 65536:
        raise ConfigError(key, f"'{value}' is not host:port",
                          config_set(key, note="e.g. <instance>-cn-hangzhou-vpc.hologres.aliyuncs.com:80"))
    return match["host"], port


# Values the example stacks and README show: never accepted as real (the first `up` would fail at the
# table, after the cloud resources exist and bill).
_PLACEHOLDER = re.compile(r"(^|[-.])example([-.]|$)|[<>]|xxxx", re.IGNORECASE)
# Quoted: a fix must run as printed (an unquoted <…> is a shell redirection).
_HOLOGRES_ENDPOINT_EXAMPLE = "'<instance>-cn-hangzhou-vpc.hologres.aliyuncs.com:80'"
_HOLOGRES_PUBLIC_EXAMPLE = "'<instance>-cn-hangzhou.hologres.aliyuncs.com:80'"
NETWORK_PATHS = ("same-vpc", "vpc-endpoint", "public")
_SSLMODES = ("require", "verify-ca", "verify-full", "prefer", "disable")


def _not_placeholder(key: str, value: str, fix: str) -> str:
    if _PLACEHOLDER.search(value):
        raise ConfigError(key, f"'{value}' is an example value, not your instance's (see the Hologres console)", fix)
    return value


def _network_path(read: _Reader, host: str, endpoint_key: str) -> tuple[str, list[str]]:
    """How the pods reach Hologres (README, "Hologres: how the pods reach it"): declared, or assumed
    with one warning naming the path. A VPC endpoint answers only inside the VPC it is bound to; a
    public endpoint only the addresses on the instance's allowlist (here: the NAT's EIP)."""
    declared = read.choice("hologresNetworkPath", NETWORK_PATHS, None)
    vpc_endpoint = "-vpc." in host or "-internal." in host
    if declared == "public" and vpc_endpoint:
        raise ConfigError(endpoint_key, f"'{host}' is a VPC endpoint, but hologresNetworkPath is public",
                          config_set(endpoint_key, note=f"the public endpoint, e.g. {_HOLOGRES_PUBLIC_EXAMPLE}"))
    if declared in ("same-vpc", "vpc-endpoint") and not vpc_endpoint:
        raise ConfigError(endpoint_key, f"'{host}' is not a VPC endpoint, but hologresNetworkPath is {declared}",
                          config_set(endpoint_key, note=f"the VPC endpoint, e.g. {_HOLOGRES_ENDPOINT_EXAMPLE}"))
    if read.text("target", "ack") != "ack":
        if declared:
            return declared, []
        return "", [f"target kubeconfig: the program cannot tell whether the pods reach {host}; they must run "
                    "in the instance's VPC (or one its VPC endpoint is bound to), or reach its public endpoint "
                    "from an allowlisted address"]
    if declared:
        return declared, []
    confirm = "; confirm with `pulumi config set hologresNetworkPath {}`"
    if not vpc_endpoint:
        return "public", ["hologresEndpoint is a public endpoint: the pods reach it through the NAT's EIP, which "
                          "must be on the instance's IP allowlist (stack output egressIp)" + confirm.format("public")]
    if read.text("vpcId"):
        return "same-vpc", ["the pods reach the VPC endpoint only if vpcId is the Hologres instance's VPC"
                            + confirm.format("same-vpc")]
    return "vpc-endpoint", ["the program creates a new VPC, which the Hologres VPC endpoint does not reach until "
                            "it is bound to it (Hologres console: Network information, stack output vpcId); "
                            "or set vpcId/vswitchIds to the instance's VPC" + confirm.format("vpc-endpoint")]


def read_hologres(read: _Reader) -> HologresSettings:
    endpoint = read.required_text("hologresEndpoint", _HOLOGRES_ENDPOINT_EXAMPLE)
    _not_placeholder("hologresEndpoint", endpoint,
                     config_set("hologresEndpoint", note=f"asks for the value, e.g. {_HOLOGRES_ENDPOINT_EXAMPLE}"))
    host, port = _endpoint(read, "hologresEndpoint", endpoint)
    admin = read.text("hologresAdminEndpoint")
    if admin:
        _not_placeholder("hologresAdminEndpoint", admin,
                         config_set("hologresAdminEndpoint", note=f"e.g. {_HOLOGRES_PUBLIC_EXAMPLE}"))
    admin_host, admin_port = _endpoint(read, "hologresAdminEndpoint", admin) if admin else (host, port)
    database = read.required_text("hologresDatabase", "'<database>'")
    _not_placeholder("hologresDatabase", database, config_set("hologresDatabase", note="asks for the database name"))
    table = read.text("hologresTable", DEFAULT_TABLE) or DEFAULT_TABLE
    # The job's connector resolves HOLO_TABLE_NAME with holo-client's rules; the table is created from
    # the same resolution (components.hologres_names), so both name one table.
    _validated("hologresTable", f"pulumi config set hologresTable {DEFAULT_TABLE}",
               lambda: hologres_names.parse_table_name(table))
    sslmode = read.choice("hologresSslMode", _SSLMODES, "require") or "require"
    root_cert = read.text("hologresSslRootCert", "") or ""
    if sslmode in ("verify-ca", "verify-full") and not root_cert:
        raise ConfigError("hologresSslRootCert", f"sslmode {sslmode} needs the instance's CA certificate",
                          config_set("hologresSslRootCert", note="asks for the path of the CA certificate"))
    network_path, warnings = _network_path(read, host, "hologresEndpoint")
    return HologresSettings(
        host=host,
        port=port,
        admin_host=admin_host,
        admin_port=admin_port,
        database=database,
        table=table,
        drop_table_on_destroy=read.boolean("dropTableOnDestroy", False),
        user=read.secret(HOLOGRES_USER, "AccessKey ID"),
        password=read.secret(HOLOGRES_PASSWORD, "AccessKey secret"),
        sslmode=sslmode,
        ssl_root_cert=root_cert,
        network_path=network_path,
        warnings=warnings,
    )
