"""What happens to a data store on `cdk destroy`."""

from aws_cdk import RemovalPolicy


def removal_policy(*, retain: bool) -> RemovalPolicy:
    """RETAIN for stores that must outlive the stack (prod); DESTROY for dev stacks."""
    return RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
