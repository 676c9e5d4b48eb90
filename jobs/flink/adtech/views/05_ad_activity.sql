-- One row per counted impression or click, on its own event time: what the windows count.
CREATE VIEW ad_activity AS
SELECT placement_id, ad_id, 'impression' AS activity, event_time FROM impressions
UNION ALL
SELECT placement_id, ad_id, CASE WHEN attributed THEN 'click' ELSE 'unattributed_click' END AS activity, event_time
FROM attributed_clicks
