-- For each PagerDuty service: how many incidents it had, how many were high urgency, and the mean
-- minutes from an incident's creation to its first acknowledgement and to its resolution
-- (resolve log entry, else the incident's resolved_at). Services without incidents show 0.
-- chart: bar x=service y=mean_minutes_to_acknowledge,mean_minutes_to_resolve title="Mean minutes to acknowledge and to resolve, per service" unit="minutes"
SELECT
    s.name AS service,
    COUNT(i.id) AS incidents,
    COALESCE(SUM(CASE WHEN i.urgency = 'high' THEN 1 ELSE 0 END), 0) AS high_urgency_incidents,
    weir_round(SUM(ack.first_ack_epoch - i.created_at_epoch)
        / (60.0 * COUNT(ack.first_ack_epoch - i.created_at_epoch)), 1) AS mean_minutes_to_acknowledge,
    weir_round(SUM(COALESCE(res.resolve_epoch, i.resolved_at_epoch) - i.created_at_epoch)
        / (60.0 * COUNT(COALESCE(res.resolve_epoch, i.resolved_at_epoch) - i.created_at_epoch)), 1)
        AS mean_minutes_to_resolve
FROM pagerduty_services s
LEFT JOIN pagerduty_incidents i ON i.service_id = s.id
LEFT JOIN (
    SELECT incident_id, MIN(created_at_epoch) AS first_ack_epoch
    FROM pagerduty_log_entries
    WHERE type = 'acknowledge_log_entry'
    GROUP BY incident_id
) ack ON ack.incident_id = i.id
LEFT JOIN (
    SELECT incident_id, MIN(created_at_epoch) AS resolve_epoch
    FROM pagerduty_log_entries
    WHERE type = 'resolve_log_entry'
    GROUP BY incident_id
) res ON res.incident_id = i.id
GROUP BY s.id, s.name
ORDER BY s.name, s.id;
