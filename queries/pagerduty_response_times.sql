-- How fast PagerDuty incidents are acknowledged and resolved: one row per service and month (YYYY-MM,
-- UTC) of the incidents' created_at; a service without incidents in a month has no row for it.
-- Minutes are rounded to 1 decimal, half away from zero. A median is the middle value (the mean of the
-- two middle ones for an even count), a p90 the value at rank ceil(0.9 n) in ascending order; both
-- are empty when no incident of the row has that time.
-- service_id, service: the incident's service (its name from pagerduty_services, else from the
--   incident). incidents: incidents created in the month.
-- acknowledged: incidents with an acknowledge_log_entry; minutes to acknowledge = the first
--   acknowledge entry - created_at.
-- resolved: incidents with a resolve_log_entry or a resolved_at; minutes to resolve = the first
--   resolve entry - created_at, else resolved_at - created_at.
-- escalated: incidents with an escalate_log_entry. resolved_without_ack: resolved incidents without
--   an acknowledge entry. auto_resolved: incidents whose first resolve entry's agent is not a user
--   (an integration, a service, or none: PagerDuty itself).
-- chart: line x=month y=median_minutes_to_acknowledge series=service title="Median minutes to acknowledge, per service" unit="minutes"
-- chart: line x=month y=median_minutes_to_resolve series=service title="Median minutes to resolve, per service" unit="minutes"
WITH entries AS (
    SELECT
        incident_id,
        MIN(CASE WHEN type = 'acknowledge_log_entry' THEN created_at_epoch END) AS first_ack_epoch,
        MAX(CASE WHEN type = 'escalate_log_entry' THEN 1 ELSE 0 END) AS escalated
    FROM pagerduty_log_entries
    WHERE incident_id IS NOT NULL
    GROUP BY incident_id
),
resolves AS (
    SELECT
        incident_id,
        created_at_epoch,
        agent_type,
        ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY created_at, id) AS rn
    FROM pagerduty_log_entries
    WHERE type = 'resolve_log_entry' AND incident_id IS NOT NULL
),
per_incident AS (
    SELECT
        i.service_id,
        COALESCE(s.name, i.service_name) AS service,
        substr(i.created_at, 1, 7) AS month,
        e.first_ack_epoch - i.created_at_epoch AS ack_seconds,
        COALESCE(r.created_at_epoch, i.resolved_at_epoch) - i.created_at_epoch AS resolve_seconds,
        CASE WHEN e.first_ack_epoch IS NOT NULL THEN 1 ELSE 0 END AS is_acknowledged,
        CASE WHEN COALESCE(r.created_at_epoch, i.resolved_at_epoch) IS NOT NULL THEN 1 ELSE 0 END AS is_resolved,
        COALESCE(e.escalated, 0) AS is_escalated,
        CASE
            WHEN r.incident_id IS NOT NULL
                 AND (r.agent_type IS NULL OR r.agent_type NOT IN ('user_reference', 'user'))
            THEN 1 ELSE 0
        END AS is_auto_resolved
    FROM pagerduty_incidents i
    LEFT JOIN pagerduty_services s ON s.id = i.service_id
    LEFT JOIN entries e ON e.incident_id = i.id
    LEFT JOIN resolves r ON r.incident_id = i.id AND r.rn = 1
),
ranked AS (
    SELECT
        p.*,
        ROW_NUMBER() OVER (
            PARTITION BY service_id, month, CASE WHEN ack_seconds IS NULL THEN 1 ELSE 0 END
            ORDER BY ack_seconds
        ) AS ack_rank,
        COUNT(ack_seconds) OVER (PARTITION BY service_id, month) AS ack_n,
        ROW_NUMBER() OVER (
            PARTITION BY service_id, month, CASE WHEN resolve_seconds IS NULL THEN 1 ELSE 0 END
            ORDER BY resolve_seconds
        ) AS resolve_rank,
        COUNT(resolve_seconds) OVER (PARTITION BY service_id, month) AS resolve_n
    FROM per_incident p
),
marked AS (
    -- *_mid: the middle value(s); *_top: the values at or above the p90 rank.
    SELECT
        r.*,
        CASE WHEN ack_seconds IS NOT NULL AND 2 * ack_rank BETWEEN ack_n AND ack_n + 2 THEN ack_seconds END AS ack_mid,
        CASE WHEN ack_seconds IS NOT NULL AND 10 * ack_rank >= 9 * ack_n THEN ack_seconds END AS ack_top,
        CASE WHEN resolve_seconds IS NOT NULL AND 2 * resolve_rank BETWEEN resolve_n AND resolve_n + 2 THEN resolve_seconds END AS resolve_mid,
        CASE WHEN resolve_seconds IS NOT NULL AND 10 * resolve_rank >= 9 * resolve_n THEN resolve_seconds END AS resolve_top
    FROM ranked r
),
grouped AS (
    SELECT
        service_id,
        MIN(service) AS service,
        month,
        COUNT(*) AS incidents,
        SUM(is_acknowledged) AS acknowledged,
        weir_round(CAST(SUM(ack_mid) AS DOUBLE) / (60 * COUNT(ack_mid)), 1) AS median_minutes_to_acknowledge,
        weir_round(CAST(MIN(ack_top) AS DOUBLE) / 60, 1) AS p90_minutes_to_acknowledge,
        SUM(is_resolved) AS resolved,
        weir_round(CAST(SUM(resolve_mid) AS DOUBLE) / (60 * COUNT(resolve_mid)), 1) AS median_minutes_to_resolve,
        weir_round(CAST(MIN(resolve_top) AS DOUBLE) / 60, 1) AS p90_minutes_to_resolve,
        SUM(is_escalated) AS escalated,
        SUM(CASE WHEN is_resolved = 1 AND is_acknowledged = 0 THEN 1 ELSE 0 END) AS resolved_without_ack,
        SUM(is_auto_resolved) AS auto_resolved
    FROM marked
    GROUP BY service_id, month
)
SELECT
    service_id,
    service,
    month,
    incidents,
    acknowledged,
    median_minutes_to_acknowledge,
    p90_minutes_to_acknowledge,
    resolved,
    median_minutes_to_resolve,
    p90_minutes_to_resolve,
    escalated,
    resolved_without_ack,
    auto_resolved
FROM grouped
ORDER BY COALESCE(service, ''), COALESCE(service_id, ''), COALESCE(month, '')
