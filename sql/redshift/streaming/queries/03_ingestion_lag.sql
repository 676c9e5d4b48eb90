-- How far behind the event the stream received each row, per shard: the ingestion path's lag.
SELECT shard_id,
       COUNT(*) AS events,
       MAX(DATEDIFF(second, event_time, approximate_arrival_timestamp)) AS max_lag_seconds
FROM clickstream.events
GROUP BY shard_id
ORDER BY shard_id;
