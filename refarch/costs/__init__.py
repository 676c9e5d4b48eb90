"""`refarch cost`: a monthly estimate per stack, from its synthesized template (what is
deployed: shards, endpoints, nodes, KPUs, alarms ...) and the expected-load settings (what
flows: records, GB, job minutes), priced with the `price_*` settings."""

from refarch.costs.estimate import StackCost, estimate_stacks
from refarch.costs.model import LineItem

__all__ = ["LineItem", "StackCost", "estimate_stacks"]
