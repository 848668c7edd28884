-- For each PagerDuty user and each team they belong to (a user in two teams gets one row per
-- team, with the same per-user counts): how many distinct incidents they were assigned and how
-- many acknowledgements they made. PagerDuty empties an incident's assignments once it is
-- resolved, so "assigned" means a current assignment OR a notification (notify_log_entry) about
-- the incident, since PagerDuty notifies exactly the assignees.
WITH assigned AS (
    SELECT a.user_id AS user_id, COUNT(DISTINCT a.incident_id) AS assigned_count
    FROM (
        SELECT incident_id, user_id FROM pagerduty_incident_assignments
        UNION
        SELECT incident_id, user_id FROM pagerduty_log_entries
        WHERE type = 'notify_log_entry' AND incident_id IS NOT NULL
    ) a
    GROUP BY a.user_id
),
acks AS (
    SELECT l.agent_id AS user_id, COUNT(*) AS ack_count
    FROM pagerduty_log_entries l
    WHERE l.type = 'acknowledge_log_entry' AND l.agent_type = 'user_reference'
    GROUP BY l.agent_id
)
SELECT
    u.name AS user_name,
    COALESCE(t.name, ut.team_name) AS team_name,
    COALESCE(asg.assigned_count, 0) AS incidents_assigned,
    COALESCE(ack.ack_count, 0) AS acknowledgements
FROM pagerduty_users u
LEFT JOIN pagerduty_user_teams ut ON ut.user_id = u.id
LEFT JOIN pagerduty_teams t ON t.id = ut.team_id
LEFT JOIN assigned asg ON asg.user_id = u.id
LEFT JOIN acks ack ON ack.user_id = u.id
ORDER BY u.name, COALESCE(t.name, ut.team_name, ''), u.id, COALESCE(ut.team_id, '');
