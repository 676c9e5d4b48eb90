"""refarch: AWS data-analytics reference architectures as CDK stacks."""

from refarch.node import use_supported_node

# Before anything imports aws_cdk: jsii starts its Node process on first import.
use_supported_node()
