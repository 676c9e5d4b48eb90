"""A small, quiet local SparkSession for the Glue jobs' local runs and tests.

Glue 5.0 runs Spark 3.5; locally the same PySpark runs in one JVM with two cores. The
settings are for small sample data: few shuffle partitions, no UI, no progress bar, UTC
as the session time zone (as on Glue), log level ERROR, and a JVM tuned to start fast
(C1 compiler only, serial GC), which roughly halves the first job's latency on a small
machine and does not matter for a few thousand rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark 3.5 logs through log4j2; without a configuration it prints WARN lines (native
# Hadoop, loopback address) before setLogLevel can run. This one silences those two
# sources; the root stays at WARN while the JVM starts (PySpark prints a "Setting default
# log level" banner when the root level differs from WARN), then setLogLevel makes it ERROR.
_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""

_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Duser.timezone=UTC"


def local_spark(app_name: str = "refarch-local") -> SparkSession:
    """The process's local SparkSession (created on first use, then shared)."""
    from pyspark.sql import SparkSession

    # Workers (only used by Python UDFs) run the same interpreter as the driver; binding
    # to loopback avoids a slow hostname lookup and the "loopback address" warning.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    scratch = Path(tempfile.gettempdir()) / "refarch-spark"
    scratch.mkdir(exist_ok=True)
    log_config = scratch / "log4j2.properties"
    if not log_config.exists() or log_config.read_text() != _LOG4J2:
        log_config.write_text(_LOG4J2)

    session = (
        SparkSession.builder.master("local[2]").appName(app_name)
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.extraJavaOptions",
                f"{_JVM_OPTIONS} -Dlog4j.configurationFile=file:{log_config}")
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
