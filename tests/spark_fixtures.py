"""One local SparkSession for the whole test session (a JVM start costs seconds).

Test modules that need Spark import the fixture: `from tests.spark_fixtures import spark  # noqa: F401`.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from refarch.local.engines.spark import local_spark

    # local_spark() returns the process's one session, so modules importing this
    # fixture share it even though pytest registers the fixture once per module.
    return local_spark("refarch-tests")
