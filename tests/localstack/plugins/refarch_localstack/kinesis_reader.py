"""Firehose's Kinesis source, read by a Python poller instead of the Java KCL.

LocalStack's Firehose reads a `KinesisStreamAsSource` stream with the KCL's Java MultiLangDaemon.
Here that daemon exits at start (and waits up to 90 s for it first), so a stream-fed delivery
stream takes minutes to create and then receives nothing. This replaces LocalStack's
`listen_to_kinesis` with a thread per delivery stream that polls each shard from LATEST (where
Firehose starts reading a stream) and hands the records to Firehose in the KCL's JSON shape
(base64 `data`, `partitionKey`, `sequenceNumber`, arrival time in ms).
"""

from __future__ import annotations

import base64
import logging
import threading

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class StreamPoller:
    def __init__(self, stream_name: str, account_id: str, region_name: str, listener) -> None:
        from localstack.aws.connect import connect_to

        self.kinesis = connect_to(aws_access_key_id=account_id, region_name=region_name).kinesis
        self.stream_name, self.listener = stream_name, listener
        self.stopped = threading.Event()
        self.iterators = {
            shard["ShardId"]: self.kinesis.get_shard_iterator(
                StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]
            for shard in self.kinesis.list_shards(StreamName=stream_name)["Shards"]}
        self.thread = threading.Thread(target=self._run, name=f"firehose-source-{stream_name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(POLL_SECONDS):
            for shard, iterator in list(self.iterators.items()):
                try:
                    page = self.kinesis.get_records(ShardIterator=iterator, Limit=500)
                except Exception as error:  # keep polling: a transient error must not end the source
                    LOG.warning("reading %s/%s: %s", self.stream_name, shard, error)
                    continue
                self.iterators[shard] = page.get("NextShardIterator") or iterator
                if page["Records"]:
                    records = [{"data": base64.b64encode(r["Data"]).decode(), "partitionKey": r["PartitionKey"],
                                "sequenceNumber": r["SequenceNumber"],
                                "approximateArrivalTimestamp": int(r["ApproximateArrivalTimestamp"].timestamp() * 1000)}
                               for r in page["Records"]]
                    try:
                        self.listener(records)
                    except Exception as error:  # Firehose's own delivery errors: logged, not fatal
                        LOG.warning("delivering %d records from %s: %s", len(records), self.stream_name, error)

    def stop(self, *args, **kwargs) -> None:
        self.stopped.set()


def listen_with_poller(stream_name, account_id, region_name, listener_func, ddb_lease_table_suffix=None,
                       wait_until_started=False):
    return StreamPoller(stream_name, account_id, region_name, listener_func)


@hooks.on_infra_start()
def read_firehose_sources_with_a_poller():
    from localstack.utils.kinesis import kinesis_connector

    kinesis_connector.listen_to_kinesis = listen_with_poller
