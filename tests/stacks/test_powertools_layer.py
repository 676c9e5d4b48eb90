"""The Powertools layer resolves in every partition and region it is published in (item 7).

Its ARN comes from the public SSM parameter Powertools publishes per region, resolved by
CloudFormation at deploy time, instead of an account of the `aws` partition built into the
template.
"""

from __future__ import annotations

import pytest

from refarch.config import SettingError, settings_from_context
from refarch.constructs.python_function import (
    DEFAULT_POWERTOOLS_LAYER_VERSION, PythonFunction, powertools_layer_name, powertools_layer_parameter_name,
)
from refarch.patterns import PATTERN_NAMES


def functions_with_layers(template: dict) -> list[dict]:
    return [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Layers")]


def test_the_parameter_name_is_the_one_powertools_publishes():
    assert powertools_layer_parameter_name("3.37.0") == "/aws/service/powertools/python/x86_64/python3.13/3.37.0"
    assert powertools_layer_name() == "AWSLambdaPowertoolsPythonV3-python313-x86_64"


def test_every_function_takes_the_layer_from_the_public_parameter(synthesis):
    found = 0
    for stack in PATTERN_NAMES:
        template = synthesis.template(stack)
        for function in functions_with_layers(template):
            (layer,) = function["Layers"]
            parameter = template["Parameters"][layer["Ref"]]
            assert parameter == {"Type": "AWS::SSM::Parameter::Value<String>",
                                 "Default": powertools_layer_parameter_name(DEFAULT_POWERTOOLS_LAYER_VERSION)}
            found += 1
    python_functions = sum(isinstance(c, PythonFunction) for stack in synthesis.stacks.values()
                           for c in stack.node.find_all())
    assert found == python_functions >= 3  # every one of ours (CDK's providers take no layer)
    assert "017000801446" not in str([synthesis.template(s) for s in PATTERN_NAMES])


def test_the_version_setting_takes_a_release_and_names_the_parameter():
    assert settings_from_context({"powertools_layer_version": "3.38.1"}, environ={}).powertools_layer_version == "3.38.1"
    with pytest.raises(SettingError, match=r"^invalid setting powertools_layer_version='27': allowed a Powertools "
                                           r"for AWS Lambda \(Python\) v3 release, like 3\.37\.0"):
        settings_from_context({"powertools_layer_version": "27"}, environ={})
