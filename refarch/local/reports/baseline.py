"""The baseline's posture report: what a synthesized template would deploy, read from it (keys and
their rotation, encryption at rest, bucket access, endpoints, flow logs, trails), and every way
it falls short of the baseline's rules, one line each."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EncryptedResource:
    logical_id: str
    type: str
    algorithm: str | None   # None: not encrypted at rest
    key: str | None          # alias or logical id of the customer-managed key


@dataclass
class PostureReport:
    stack: str
    keys: dict[str, bool] = field(default_factory=dict)             # key -> rotation on
    encryption: list[EncryptedResource] = field(default_factory=list)
    public_access_blocked: dict[str, bool] = field(default_factory=dict)  # bucket -> all four
    tls_only: dict[str, bool] = field(default_factory=dict)             # bucket -> deny non-TLS
    endpoints: dict[str, str] = field(default_factory=dict)             # service -> Gateway/Interface
    flow_logs: list[str] = field(default_factory=list)                  # "VPC -> destination (ALL)"
    trails: dict[str, dict[str, bool]] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Everything that falls short of the baseline's rules, one line each."""
        found = [f"{k}: key rotation off" for k, on in self.keys.items() if not on]
        found += [f"{r.logical_id} ({r.type}): not encrypted at rest"
                  for r in self.encryption if r.algorithm is None]
        found += [f"{b}: public access not fully blocked" for b, ok in self.public_access_blocked.items() if not ok]
        found += [f"{b}: does not deny non-TLS requests" for b, ok in self.tls_only.items() if not ok]
        found += [f"trail {t}: {name} off" for t, flags in self.trails.items()
                  for name, on in flags.items() if not on]
        return found
