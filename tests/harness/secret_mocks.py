"""Mock outputs of the credential generators (pulumi-random, pulumi-tls) and of the writer login's computed
name, for programs under the SDK mocks.

Each generated value is a recognizable sentinel derived from the resource's name, so a program test can
follow it and prove it never lands in plaintext outside a Secret.
"""

from __future__ import annotations

from typing import Any

SENTINEL = "S3NT1NEL-generated"


def sentinel(name: str, what: str) -> str:
    return f"{SENTINEL}-{what}-{name}"


def new_resource(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """The outputs for a random:/tls: resource, or None for any other type."""
    state = dict(inputs)
    if typ == "random:index/randomPassword:RandomPassword":
        state["result"] = sentinel(name, "password")
        state["bcryptHash"] = sentinel(name, "bcrypt")
    elif typ == "tls:index/privateKey:PrivateKey":
        key = sentinel(name, "private-key")
        state["privateKeyPem"] = f"-----BEGIN PRIVATE KEY-----\n{key}\n-----END PRIVATE KEY-----\n"
        state["publicKeyPem"] = f"-----BEGIN PUBLIC KEY-----\n{name}\n-----END PUBLIC KEY-----\n"
    elif typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
        state["certPem"] = f"-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n"
    elif typ == "tls:index/certRequest:CertRequest":
        state["certRequestPem"] = f"-----BEGIN CERTIFICATE REQUEST-----\n{name}\n-----END CERTIFICATE REQUEST-----\n"
    elif typ == "pulumi-python:dynamic/hologres:Writer":
        state.setdefault("loginName", inputs.get("login"))  # as on PostgreSQL; BASIC$… on Hologres
    else:
        return None
    return state
