"""Every condition in a role's policy is one its actions can match.

IAM evaluates a condition on a key the request does not carry as false (unless the
operator ends in `IfExists`), so an Allow whose condition names a key the action never
sends allows nothing, silently: `s3:GetBucketLocation` under an `s3:prefix` condition is
the classic case (only ListBucket carries `s3:prefix`). This check reads each statement of
every role's policies in a synthesized template and reports each (action, condition key)
pair the Service Authorization Reference does not list for that action, and each action
the reference does not know (a typo grants nothing either).

The reference is the one policy_sentry ships (the AWS documentation, as data). Global
keys (`aws:...`) apply to every action and are not checked.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from policy_sentry.shared.iam_data import get_service_prefix_data

ROLE_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True)
class ConditionProblem:
    resource: str      # logical id (or construct path) of the policy
    action: str
    key: str | None    # None: the action itself is unknown
    message: str


def condition_problems(template: Mapping[str, Any], paths: Mapping[str, str] | None = None
                       ) -> list[ConditionProblem]:
    """Problems in the identity policies of `template` (roles' inline and attached policies)."""
    paths = paths or {}
    problems = []
    for logical_id, statement in _role_statements(template):
        where = paths.get(logical_id, logical_id)
        problems += _statement_problems(where, statement)
    return problems


def _role_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, dict]]:
    for logical_id, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        documents = []
        if kind in ROLE_POLICY_TYPES:
            documents.append(props.get("PolicyDocument", {}))
        elif kind == "AWS::IAM::Role":
            documents += [p.get("PolicyDocument", {}) for p in props.get("Policies", [])]
        for document in documents:
            statements = document.get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                yield logical_id, statement


def _statement_problems(where: str, statement: Mapping[str, Any]) -> list[ConditionProblem]:
    if "NotAction" in statement:
        return []  # matches actions by exclusion: nothing to check per action
    actions = _as_list(statement.get("Action", []))
    keys = [(operator, key) for operator, block in statement.get("Condition", {}).items()
            if not operator.endswith("IfExists") for key in block]
    problems = []
    for pattern in actions:
        expanded = expand_action(pattern)
        if not expanded:
            problems.append(ConditionProblem(where, pattern, None,
                                             f"{pattern} is not an action in the IAM reference"))
            continue
        for operator, key in keys:
            if key.lower().startswith("aws:"):
                continue
            for action in expanded:
                if not supports_condition_key(action, key):
                    problems.append(ConditionProblem(
                        where, action, key,
                        f"{action} never carries condition key {key} ({operator}): the statement "
                        f"{'allows' if statement.get('Effect') == 'Allow' else 'denies'} it nothing"))
    return problems


def expand_action(pattern: str) -> list[str]:
    """`s3:GetObject*` -> every matching action in the reference (case-insensitive)."""
    if pattern == "*":
        return ["*"]
    prefix, _, name = pattern.partition(":")
    privileges = get_service_prefix_data(prefix.lower()).get("privileges", {})
    matched = [n for n in privileges if fnmatch.fnmatchcase(n.lower(), name.lower())]
    return [f"{prefix.lower()}:{n}" for n in sorted(matched)]


def supports_condition_key(action: str, key: str) -> bool:
    """Whether `action` can carry `key` (the action's keys and its resource types' keys)."""
    if action == "*":
        return True
    return any(pattern.fullmatch(key) for pattern in _condition_key_patterns(action))


@lru_cache(maxsize=None)
def _condition_key_patterns(action: str) -> tuple[re.Pattern[str], ...]:
    prefix, _, name = action.partition(":")
    data = get_service_prefix_data(prefix)
    privilege = data.get("privileges", {}).get(name, {})
    keys: set[str] = set()
    for resource_type, entry in privilege.get("resource_types", {}).items():
        keys.update(entry.get("condition_keys", []))
        keys.update(data.get("resources", {}).get(resource_type, {}).get("condition_keys", []))
    return tuple(_key_pattern(k) for k in sorted(keys))


def _key_pattern(key: str) -> re.Pattern[str]:
    """`kms:EncryptionContext:${EncryptionContextKey}` -> a pattern for any context key."""
    parts = re.split(r"\$\{[^}]+\}", key)
    return re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def problems_by_action(problems: Iterable[ConditionProblem]) -> dict[str, set[str | None]]:
    """{action: {condition keys it cannot carry}}, for assertions and summaries."""
    found: dict[str, set[str | None]] = {}
    for problem in problems:
        found.setdefault(problem.action, set()).add(problem.key)
    return found
