-- Records the Flink job rejected, by reason, with the first and last time one was received.
SELECT reason, count(*) AS records, min(received_at) AS first_received, max(received_at) AS last_received
FROM clickstream_dead_letters
GROUP BY reason
ORDER BY records DESC, reason
