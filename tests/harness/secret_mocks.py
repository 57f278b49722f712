"""Mock outputs of the credential generators (pulumi-random, pulumi-tls) and of the writer login's computed
name, for programs under the SDK mocks.

Passwords are recognizable sentinels derived from the resource's name, so a program test can follow them
and prove they never land in plaintext outside a Secret. Keys and certificates are real (openssl, from the
resource's own inputs: algorithm, subject, names, the signing CA), so the program's rendered proxy Secret
works in a real nginx and the CA it exports verifies it; a test follows a key by its (random) PEM text.
Like a resource's outputs in the engine's state, they stay the same from run to run while the name and
inputs do (cached under .cache/tls-mocks): a second run renders the same Secret.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from tests.harness import CACHE_DIR, tls
from tests.harness.program import unwrap

SENTINEL = "S3NT1NEL-generated"
TLS_CACHE = CACHE_DIR / "tls-mocks"


def sentinel(name: str, what: str) -> str:
    return f"{SENTINEL}-{what}-{name}"


def _stable(typ: str, name: str, inputs: dict[str, Any], make: Callable[[], str]) -> str:
    """`make()`'s PEM, made once per resource name and inputs (what the engine's state would keep)."""
    digest = hashlib.sha256(json.dumps([typ, name, inputs], sort_keys=True, default=str).encode()).hexdigest()
    path = TLS_CACHE / f"{digest}.pem"
    if path.is_file():
        return path.read_text()
    text = make()
    TLS_CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{digest}.{os.getpid()}")
    partial.write_text(text)
    os.chmod(partial, 0o600)
    os.replace(partial, path)  # atomic: parallel runs may race to the same name
    return text


def new_resource(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """The outputs for a random:/tls: resource, or None for any other type."""
    state = dict(inputs)
    inputs = unwrap(inputs)  # a key passed on is a secret: its PEM arrives inside the secret marker
    if typ == "random:index/randomPassword:RandomPassword":
        state["result"] = sentinel(name, "password")
        state["bcryptHash"] = sentinel(name, "bcrypt")
    elif typ == "tls:index/privateKey:PrivateKey":
        state["privateKeyPem"] = _stable(typ, name, inputs, lambda: tls.private_key(
            inputs.get("algorithm", "RSA"), inputs.get("ecdsaCurve", "P224"), int(inputs.get("rsaBits", 2048))))
        state["publicKeyPem"] = f"-----BEGIN PUBLIC KEY-----\n{name}\n-----END PUBLIC KEY-----\n"  # unused
    elif typ == "tls:index/selfSignedCert:SelfSignedCert":
        state["certPem"] = _stable(typ, name, inputs, lambda: tls.self_signed_cert(
            inputs["privateKeyPem"], (inputs.get("subject") or {}).get("commonName", name),
            validity_hours=int(inputs["validityPeriodHours"]), is_ca=bool(inputs.get("isCaCertificate")),
            allowed_uses=inputs.get("allowedUses", [])))
    elif typ == "tls:index/certRequest:CertRequest":
        state["certRequestPem"] = _stable(typ, name, inputs, lambda: tls.cert_request(
            inputs["privateKeyPem"], (inputs.get("subject") or {}).get("commonName", name),
            dns_names=inputs.get("dnsNames", []), ip_addresses=inputs.get("ipAddresses", [])))
    elif typ == "tls:index/locallySignedCert:LocallySignedCert":
        state["certPem"] = _stable(typ, name, inputs, lambda: tls.locally_signed_cert(
            inputs["certRequestPem"], inputs["caPrivateKeyPem"], inputs["caCertPem"],
            validity_hours=int(inputs["validityPeriodHours"]), allowed_uses=inputs.get("allowedUses", [])))
    elif typ == "pulumi-python:dynamic/hologres:Writer":
        state.setdefault("loginName", inputs.get("login"))  # as on PostgreSQL; BASIC$… on Hologres
    else:
        return None
    return state
