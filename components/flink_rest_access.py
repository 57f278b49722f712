"""How a dynamic provider reaches a session cluster's REST API: the pinned CA and basic auth of its
authenticating proxy (issue 12), carried as resource inputs. Shared by FlinkJob and ClusterReady.

Inputs: `rest_ca_pem` (public), `rest_user`, `rest_password` (a Pulumi secret; the resource marks it, and
the provider host hands it over unwrapped, or wrapped when the engine keeps the marker).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.runtime import rpc

from components.flink_rest import FlinkRestClient

ACCESS_KEYS = ("rest_ca_pem", "rest_user", "rest_password")


def client(rest_url: str, props: Mapping[str, Any]) -> FlinkRestClient:
    """A REST client for `rest_url` with the CA pinned and basic auth, when the inputs carry them."""
    password = rpc.unwrap_rpc_secret(props.get("rest_password"))
    user = props.get("rest_user")
    return FlinkRestClient(rest_url, ca_pem=props.get("rest_ca_pem") or None,
                           auth=(user, password) if user and password else None)


def access_inputs(ca_pem: pulumi.Input[str] | None, user: pulumi.Input[str] | None,
                  password: pulumi.Input[str] | None) -> dict[str, Any]:
    """The inputs a resource declares for them: the password always as a secret."""
    return {"rest_ca_pem": ca_pem, "rest_user": user,
            "rest_password": pulumi.Output.secret(password) if password is not None else None}
