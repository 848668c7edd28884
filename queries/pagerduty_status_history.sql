-- How long each PagerDuty incident stayed in each status, from the versions weir keeps in
-- pagerduty_incidents_history (`history: true` in its mapper): one row per stretch of versions
-- in one status, so a status fetched three times in a row is one row. Sorted by incident number,
-- then valid_from.
-- valid_from: the first fetch that saw the status; valid_to: the first fetch that saw the next
--   one, empty while the incident is still in it.
-- minutes_in_status: valid_to - valid_from in minutes, rounded to 1 decimal half away from zero;
--   empty while the status holds. Times are fetch times: the change itself happened between the
--   last fetch in the old status and the first in the new one.
WITH versions AS (
    SELECT
        id,
        incident_number,
        status,
        valid_from,
        valid_to,
        CASE WHEN status IS NOT DISTINCT FROM LAG(status) OVER (PARTITION BY id ORDER BY valid_from)
             THEN 0 ELSE 1 END AS starts
    FROM pagerduty_incidents_history
),
stretches AS (
    SELECT
        *,
        SUM(starts) OVER (PARTITION BY id ORDER BY valid_from ROWS UNBOUNDED PRECEDING) AS stretch
    FROM versions
),
spans AS (
    SELECT
        id,
        stretch,
        MAX(incident_number) AS incident_number,
        MAX(status) AS status,
        MIN(valid_from) AS valid_from,
        -- The stretch's last version ends it: empty when that one is the current version.
        MAX(CASE WHEN valid_to IS NULL THEN 1 ELSE 0 END) AS open,
        MAX(valid_to) AS last_valid_to
    FROM stretches
    GROUP BY id, stretch
)
SELECT
    id AS incident_id,
    incident_number,
    status,
    valid_from,
    CASE WHEN open = 1 THEN NULL ELSE last_valid_to END AS valid_to,
    CASE WHEN open = 1 THEN NULL
         ELSE weir_round(CAST(weir_epoch(last_valid_to) - weir_epoch(valid_from) AS DOUBLE) / 60, 1)
    END AS minutes_in_status
FROM spans
ORDER BY incident_number, incident_id, valid_from
