from collections.abc import Iterator

import pytest

import godex.providers.registry  # noqa: F401  (installs the spec catalog load_config asks)
from tests.support.postgres import schema_dsn, throwaway_database


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The run's throwaway PostgreSQL database (created on first use, dropped at the end)."""
    with throwaway_database() as url:
        yield url


@pytest.fixture
def pg_dsn(pg_database: str) -> str:
    """A DSN for a schema of this test's own in the run's database."""
    return schema_dsn(pg_database)
