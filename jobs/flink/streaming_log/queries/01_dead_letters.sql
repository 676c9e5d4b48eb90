-- Every record the job cannot use goes to the dead letters with its reason, as it arrived.
INSERT INTO dead_letters
SELECT reason, payload, parsed_time AS event_time, CAST(arrival AS TIMESTAMP(3)) AS received_at
FROM clicks_checked
WHERE reason IS NOT NULL
