"""Flink SQL tests: one streaming TableEnvironment, so one JVM, for the whole session.

Starting the JVM (py4j gateway) and the first job cost ~30 s; later TableEnvironments and
jobs reuse that JVM. A TableEnvironment can run many jobs one after another, but it keeps
its catalog, so every local job run creates its tables in a database of its own and drops
it afterwards. PyFlink is a dev dependency: where it is missing these tests fail, not skip.
"""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(scope="session")
def flink_env():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # apache-beam 2.48 warns that pkg_resources is deprecated
        from pyflink.table import EnvironmentSettings, TableEnvironment
        return TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
