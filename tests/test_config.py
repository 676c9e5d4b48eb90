"""Settings are validated with one-line errors naming setting, value and what is allowed."""

from __future__ import annotations

import pytest

from refarch.config import (
    DEFAULT_INTERFACE_ENDPOINTS, DUMMY_ACCOUNT, SettingError, settings_from_context,
)
from refarch.patterns import PATTERN_NAMES


def settings(**context):
    return settings_from_context(context, environ={})


def test_defaults_are_dev_all_patterns_two_azs_and_the_dummy_environment():
    s = settings()
    assert (s.stage, s.patterns, s.baseline.azs) == ("dev", PATTERN_NAMES, 2)
    assert s.baseline.interface_endpoints == DEFAULT_INTERFACE_ENDPOINTS
    assert (s.account, s.region) == (DUMMY_ACCOUNT, "us-east-1")
    assert not s.retains_data


def test_prod_stage_retains_data():
    assert settings(stage="prod").retains_data


def test_context_strings_are_parsed_to_typed_values():
    s = settings(azs="3", interface_endpoints=",".join(DEFAULT_INTERFACE_ENDPOINTS) + ", kms,kms",
                 log_retention_days="90", vpc_cidr="10.1.0.0/20")
    assert s.baseline.azs == 3
    assert s.baseline.interface_endpoints == (*DEFAULT_INTERFACE_ENDPOINTS, "kms")
    assert s.baseline.log_retention_days == 90
    assert s.baseline.vpc_cidr == "10.1.0.0/20"


def test_interface_endpoints_none_is_refused_naming_the_pattern_that_needs_one():
    with pytest.raises(SettingError, match=r"^invalid setting interface_endpoints='none': allowed a list "
                       r"that includes sqs, which IotTelemetry needs \(the writer quarantines"):
        settings(interface_endpoints="none")


def test_environment_comes_from_cdk_default_variables():
    s = settings_from_context({}, environ={"CDK_DEFAULT_ACCOUNT": "210987654321",
                                           "CDK_DEFAULT_REGION": "eu-west-1"})
    assert (s.account, s.region) == ("210987654321", "eu-west-1")


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("stage", "qa", "one of dev, prod"),
    ("azs", "0", "a whole number from 1 to 3"),
    ("azs", "two", "a whole number from 1 to 3"),
    ("patterns", "Nope", "a comma-separated list of SecurityBaseline"),
    ("patterns", "", "a comma-separated list of SecurityBaseline"),
    ("interface_endpoints", "kms,ftp", "a comma-separated list of kinesis-streams"),
    ("log_retention_days", "10", "one of 1, 3, 5, 7, 14, 30"),
    ("vpc_cidr", "8.8.0.0/16", "a private IPv4 CIDR block with a prefix from /16 to /24"),
    ("vpc_cidr", "10.0.0.0/8", "a private IPv4 CIDR block with a prefix from /16 to /24"),
    ("access_log_retention_days", "0", "a whole number from 1 to 3653"),
])
def test_a_bad_value_names_the_setting_the_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(SettingError) as caught:
        settings(**{key: value})
    message = str(caught.value)
    assert message.startswith(f"invalid setting {key}={value!r}: allowed ")
    assert allowed in message
    assert "\n" not in message


def test_an_unknown_setting_is_rejected_with_the_known_ones():
    with pytest.raises(SettingError, match=r"invalid setting stagee='prod': allowed settings are stage, "):
        settings(stagee="prod")


def test_cdk_own_context_keys_are_not_mistaken_for_settings():
    s = settings(**{"@aws-cdk/core:enablePartitionLiterals": True,
                    "aws:cdk:enable-path-metadata": True, "acknowledged-issue-numbers": [1]})
    assert s.stage == "dev"
