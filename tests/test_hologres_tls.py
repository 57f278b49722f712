"""The admin connection is encrypted by default: the same real PostgreSQL with TLS off, then on
(a self-signed certificate made by openssl in the test), through pulumi's provider host."""

from __future__ import annotations

import pytest

from tests.harness.engine import Engine
from tests.harness.hologres_tables import engine_as, table_inputs, tls_on
from tests.harness.postgres import PostgresServer
from tests.harness.provider_host import ProviderError, ProviderHost

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(provider_host: ProviderHost, postgres: PostgresServer) -> Engine:
    return engine_as(provider_host, postgres.user, postgres.password)


def defaults(postgres: PostgresServer, database: str, **connection: object) -> dict[str, object]:
    """The inputs with the provider's own sslmode default (require)."""
    inputs = table_inputs(postgres, database, **connection)
    if "sslmode" not in connection:
        del inputs["sslmode"]
    return inputs


def test_require_fails_clearly_when_the_server_has_no_tls(engine: Engine, postgres: PostgresServer,
                                                          pg_database: str) -> None:
    with pytest.raises(ProviderError) as refused:
        engine.up("orders", defaults(postgres, pg_database))
    line = refused.value.last_line
    assert "cannot connect to" in line and "server does not support SSL, but SSL was required" in line
    assert "turn SSL on for the Hologres instance" in line and "hologresSslMode disable" in line
    assert engine.state("orders") is None


def test_the_tls_state_is_an_output(engine: Engine, postgres: PostgresServer, pg_database: str) -> None:
    with tls_on(postgres) as certificate:
        state = engine.up("orders", defaults(postgres, pg_database, dropTableOnDestroy=True))
        assert state.inputs["sslmode"] == "require"
        assert state.outputs["tls"].startswith("TLSv1.")
        assert state.outputs["tls"].endswith(", server certificate not verified (sslmode require)")
        engine.destroy("orders")
        # verify-full against the instance's CA: the certificate and the host name are checked.
        verified = engine.up("orders", defaults(postgres, pg_database, sslmode="verify-full",
                                                sslRootCert=str(certificate)))
        assert verified.outputs["tls"].endswith(", certificate and host name verified (sslmode verify-full)")
