"""The condition check finds statements whose conditions their actions can never match."""

from __future__ import annotations

from refarch.iam_conditions import condition_problems, expand_action, supports_condition_key


def role_policy(*statements: dict) -> dict:
    return {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [
            {"PolicyName": "inline", "PolicyDocument": {"Statement": [statements[0]]}}]}},
        "RolePolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyDocument": {"Statement": list(statements[1:])}, "Roles": [{"Ref": "Role"}]}},
    }}


LIST_UNDER_PREFIX = {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                     "Resource": "arn:aws:s3:::lake",
                     "Condition": {"StringLike": {"s3:prefix": ["trades/*"]}}}


def test_get_bucket_location_under_an_s3_prefix_condition_is_reported():
    (problem,) = condition_problems(role_policy(LIST_UNDER_PREFIX), {"Role": "Stack/Reader/Role"})
    assert (problem.resource, problem.action, problem.key) == (
        "Stack/Reader/Role", "s3:GetBucketLocation", "s3:prefix")
    assert "allows it nothing" in problem.message


def test_list_bucket_under_an_s3_prefix_condition_passes():
    statement = {**LIST_UNDER_PREFIX, "Action": "s3:ListBucket"}
    assert condition_problems(role_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                                          statement)) == []


def test_global_keys_and_if_exists_operators_are_not_held_against_an_action():
    statement = {"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:SourceAccount": "1"},
                               "StringLikeIfExists": {"s3:prefix": "x/*"}}}
    assert condition_problems(role_policy(statement)) == []


def test_placeholder_keys_match_any_name_in_their_slot():
    # kms:EncryptionContext:${EncryptionContextKey} in the reference
    assert supports_condition_key("kms:Decrypt", "kms:EncryptionContext:aws:logs:arn")
    assert not supports_condition_key("kms:DescribeKey", "kms:EncryptionContext:aws:logs:arn")


def test_wildcard_actions_are_checked_one_by_one():
    assert {"s3:GetObject", "s3:GetObjectVersion"} <= set(expand_action("s3:GetObject*"))
    statement = {"Effect": "Allow", "Action": "kms:Describe*", "Resource": "*",
                 "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}}}
    assert {p.action for p in condition_problems(role_policy(statement))} >= {"kms:DescribeKey"}


def test_an_action_the_reference_does_not_know_is_reported():
    statement = {"Effect": "Allow", "Action": ["s3:GetObjekt"], "Resource": "*"}
    (problem,) = condition_problems(role_policy(statement))
    assert (problem.action, problem.key) == ("s3:GetObjekt", None)
