"""A temporary SQS queue subscribed to a topic, to see what a deployed pattern publishes.

Created before the sample is sent and removed afterwards (also on failure); only this topic
may send to it. Raw message delivery, so each message body is what the publisher sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from refarch.smoke.target import Target


class TopicListener:
    def __init__(self, target: Target, topic_arn: str, *, name: str) -> None:
        self.sqs, self.sns = target.client("sqs"), target.client("sns")
        self.topic_arn, self.name = topic_arn, name
        self.messages: list[dict[str, Any]] = []
        self.queue_url = self.subscription_arn = None

    def __enter__(self) -> TopicListener:
        self.queue_url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": self.topic_arn}}}]}
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy)})
        self.subscription_arn = self.sns.subscribe(
            TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)["SubscriptionArn"]
        return self

    def collect(self, wanted: Callable[[dict], bool], expected: int) -> bool:
        """Receive what has arrived, keep the `wanted` messages; True once `expected` are here."""
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1).get("Messages", [])
        for message in received:
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = {"raw": message["Body"]}
            if wanted(body):
                self.messages.append(body)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(self.messages) >= expected

    def __exit__(self, *exc) -> None:
        if self.subscription_arn:
            self.sns.unsubscribe(SubscriptionArn=self.subscription_arn)
        if self.queue_url:
            self.sqs.delete_queue(QueueUrl=self.queue_url)
