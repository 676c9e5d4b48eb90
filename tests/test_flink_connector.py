"""The connector jar is verified against the pinned SHA-256 before it is used."""

from __future__ import annotations

import hashlib
import json

import pytest

from refarch import flink_connector
from refarch.flink_connector import ConnectorError, verify


def test_the_lock_pins_the_flink_1_20_kinesis_sql_connector():
    pinned = flink_connector.lock()
    assert (pinned["group"], pinned["artifact"], pinned["version"]) == (
        "org.apache.flink", "flink-sql-connector-kinesis", "5.0.0-1.20")


def test_a_jar_matching_the_pin_passes(tmp_path):
    jar = tmp_path / "c.jar"
    jar.write_bytes(b"connector bytes")
    expected = hashlib.sha256(b"connector bytes").hexdigest()
    assert verify(jar, expected) == expected


def test_a_jar_not_matching_the_pin_is_refused(tmp_path):
    jar = tmp_path / "c.jar"
    jar.write_bytes(b"tampered")
    with pytest.raises(ConnectorError, match="has SHA-256 .* but connector.lock pins 00"):
        verify(jar, "00" * 32)


def test_a_missing_jar_says_how_to_get_it(tmp_path):
    with pytest.raises(ConnectorError, match="run `make flink-deps`"):
        verify(tmp_path / "absent.jar", "")


def test_fetch_without_maven_explains_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(flink_connector.shutil, "which", lambda name: None)
    with pytest.raises(ConnectorError, match="apt-get install maven"):
        flink_connector.fetch(tmp_path / "c.jar")


def test_first_verified_fetch_records_the_sha256(monkeypatch, tmp_path):
    lock = tmp_path / "connector.lock"
    lock.write_text(json.dumps({"group": "g", "artifact": "a", "version": "1", "sha256": ""}))
    monkeypatch.setattr(flink_connector, "LOCK_FILE", lock)
    monkeypatch.setattr(flink_connector.shutil, "which", lambda name: "/usr/bin/mvn")
    target = tmp_path / "lib" / "a-1.jar"

    def fake_maven(command, check):
        assert "--strict-checksums" in command and "-Dartifact=g:a:1:jar" in command
        target.write_bytes(b"downloaded")

    monkeypatch.setattr(flink_connector.subprocess, "run", fake_maven)
    flink_connector.fetch(target)
    assert json.loads(lock.read_text())["sha256"] == hashlib.sha256(b"downloaded").hexdigest()


# `refarch deploy` refuses an application zip without the pinned jar -----------------

def flink_stack(jar):
    from aws_cdk import App, Environment, RemovalPolicy, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_kms as kms

    from refarch.constructs.flink_application import FlinkSqlApplication
    from refarch.paths import FLINK_ROOT

    stack = Stack(App(), "Flink", env=Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, subnet_configuration=[ec2.SubnetConfiguration(
        name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    stream = kinesis.Stream(stack, "Events")
    FlinkSqlApplication(stack, "Job", entry_point=FLINK_ROOT / "main.py", job_folder=FLINK_ROOT / "streaming_log",
                        source=stream,
                        sinks={n: stream for n in ("clean", "deadletters", "windows", "alerts")},
                        key=kms.Key(stack, "Key"), vpc=vpc, log_retention_days=7,
                        removal_policy=RemovalPolicy.DESTROY, connector_jar=jar, start_on_deploy=False)
    return stack


def pin(monkeypatch, tmp_path, sha256: str) -> None:
    lock = tmp_path / "connector.lock"
    lock.write_text(json.dumps({"group": "g", "artifact": "a", "version": "1", "sha256": sha256}))
    monkeypatch.setattr(flink_connector, "LOCK_FILE", lock)


@pytest.mark.synth
def test_deploy_accepts_an_application_whose_jar_is_the_pinned_one(monkeypatch, tmp_path):
    jar = tmp_path / "connector.jar"
    jar.write_bytes(b"the pinned connector")
    pin(monkeypatch, tmp_path, hashlib.sha256(b"the pinned connector").hexdigest())
    assert flink_connector.applications_missing_the_connector([flink_stack(jar)]) == []


@pytest.mark.synth
def test_deploy_refuses_an_application_whose_jar_is_not_the_pinned_one(monkeypatch, tmp_path):
    jar = tmp_path / "connector.jar"
    jar.write_bytes(b"a tampered connector")
    pin(monkeypatch, tmp_path, "00" * 32)
    (entry,) = flink_connector.applications_missing_the_connector([flink_stack(jar)])
    actual = hashlib.sha256(b"a tampered connector").hexdigest()
    assert entry == f"Flink/Job (its connector.jar has SHA-256 {actual}, but connector.lock pins {'00' * 32})"


@pytest.mark.synth
def test_deploy_refuses_a_jar_it_cannot_verify_and_a_missing_one(monkeypatch, tmp_path):
    jar = tmp_path / "connector.jar"
    jar.write_bytes(b"some connector")
    pin(monkeypatch, tmp_path, "")
    assert flink_connector.applications_missing_the_connector([flink_stack(jar)]) == [
        "Flink/Job (connector.lock pins no SHA-256 yet, so connector.jar cannot be verified)"]
    assert flink_connector.applications_missing_the_connector([flink_stack(tmp_path / "absent.jar")]) == ["Flink/Job"]
