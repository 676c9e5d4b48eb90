-- Valid clicks, one per impression: the first to arrive. A re-sent click and a second click
-- on the same impression (a double click, a reload) are duplicates and credit nothing.
CREATE VIEW clicks AS
SELECT impression_id, placement_id, ad_id, event_time
FROM (
  SELECT impression_id, placement_id, ad_id, event_time,
    ROW_NUMBER() OVER (PARTITION BY impression_id ORDER BY arrival ASC) AS copy
  FROM ad_events_checked
  WHERE reason IS NULL AND event_type = 'click')
WHERE copy = 1
