-- Every record the job cannot use goes to the dead letters with its reason, as it arrived.
INSERT INTO ad_dead_letters
SELECT reason, payload, parsed_time AS event_time
FROM ad_events_checked
WHERE reason IS NOT NULL
