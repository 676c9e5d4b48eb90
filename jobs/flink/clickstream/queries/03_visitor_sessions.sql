-- Session windows per visitor, closed after 30 minutes without a click from that visitor.
--
-- How this maps to the old Kinesis Data Analytics (SQL) stagger windows: a stagger window
-- (WINDOWED BY STAGGER (PARTITION BY visitor_id RANGE INTERVAL ...)) opened per partition
-- key when that key's first record arrived, so each key's records were grouped in a window
-- of its own, and late, out-of-order records of one key did not fall into a window that a
-- global clock had already closed. Flink SQL has no stagger window; its equivalent for
-- per-key activity grouping is the SESSION window table-valued function with
-- PARTITION BY visitor_id: each visitor's window opens at that visitor's first click and
-- grows while clicks keep coming less than the gap apart. Lateness is handled by the
-- event-time watermark instead of by arrival: a record up to the source's bound (10 s)
-- behind is merged into its visitor's session; one behind a session that has already
-- been emitted (watermark past the session end) is dropped. A click that is too late for
-- its minute windows still joins its visitor's session if that session is still open
-- (the visitor has kept clicking less than 30 minutes apart), just as a stagger window
-- kept accepting its key's records while it was open.
--
-- Flink 1.20 runs the SESSION window TVF in streaming mode for window aggregations like
-- this one (supported since 1.19), so the legacy GROUP BY SESSION(...) syntax is not needed.
-- session_end = last click + 30 minutes (Flink's session window end).
INSERT INTO visitor_sessions
SELECT visitor_id, window_start AS session_start, window_end AS session_end, COUNT(*) AS page_views
FROM TABLE(
  SESSION(TABLE clicks PARTITION BY visitor_id, DESCRIPTOR(event_time), INTERVAL '30' MINUTE))
GROUP BY visitor_id, window_start, window_end
