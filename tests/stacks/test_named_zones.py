"""Availability zones can be named, by zone name or zone id, besides a count (item 8)."""

from __future__ import annotations

import pytest

from refarch.config import SettingError, settings_from_context
from refarch.constructs.zones import zone_id_prefix
from refarch.patterns import BASELINE
from refarch.synthesis import synthesize
from tests.conftest import NO_AWS_ENV


def subnets(azs: str, tmp_path) -> list[dict]:
    result = synthesize({"azs": azs, "patterns": BASELINE}, outdir=str(tmp_path), environ=NO_AWS_ENV, gates=False)
    return [r["Properties"] for r in result.template(BASELINE)["Resources"].values() if r["Type"] == "AWS::EC2::Subnet"]


@pytest.mark.synth
def test_zone_names_place_the_subnets_in_those_zones(tmp_path):
    assert [s["AvailabilityZone"] for s in subnets("us-east-1a,us-east-1c", tmp_path)] == ["us-east-1a", "us-east-1c"]


@pytest.mark.synth
def test_zone_ids_place_the_subnets_by_id(tmp_path):
    placed = subnets("use1-az1,use1-az4,use1-az6", tmp_path)
    assert [s["AvailabilityZoneId"] for s in placed] == ["use1-az1", "use1-az4", "use1-az6"]
    assert not any("AvailabilityZone" in s for s in placed)


@pytest.mark.parametrize(("value", "allowed"), [
    ("us-east-1a,use1-az1", "1 to 3 zone names (us-east-1a,us-east-1b) or zone ids (use1-az1,use1-az2)"),
    ("us-east-1a,us-east-1a", "1 to 3 zone names"),
    ("us-east-1a,us-east-1b,us-east-1c,us-east-1d", "1 to 3 zone names"),
    ("eu-west-1a", "zones of the deploy region us-east-1 (its zone ids start with use1-)"),
    ("euw1-az1,euw1-az2", "zones of the deploy region us-east-1"),
])
def test_a_bad_zone_list_names_the_setting_and_what_is_allowed(value, allowed):
    with pytest.raises(SettingError) as caught:
        settings_from_context({"azs": value}, environ={})
    assert str(caught.value).startswith(f"invalid setting azs={value!r}: allowed ")
    assert allowed in str(caught.value)


def test_zones_of_the_deploy_region_are_accepted():
    settings = settings_from_context({"azs": "euw1-az1,euw1-az3"}, environ={"CDK_DEFAULT_REGION": "eu-west-1"})
    assert settings.baseline.azs == ("euw1-az1", "euw1-az3")


@pytest.mark.parametrize(("region", "prefix"), [("us-east-1", "use1"), ("ap-southeast-2", "apse2"),
                                                ("ap-northeast-1", "apne1"), ("ca-central-1", "cac1"),
                                                ("us-gov-west-1", "usgw1"), ("eu-central-2", "euc2")])
def test_zone_id_prefixes_follow_the_region_name(region, prefix):
    assert zone_id_prefix(region) == prefix
