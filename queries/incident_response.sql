-- How incidents are detected and recovered from, by postmortem: one row per month (YYYY-MM) of
-- incident_date and severity_level; incidents without a severity form their own row, after the
-- others of the month. Minutes and hours are rounded to 1 decimal, half away from zero. A median is
-- the middle value (the mean of the two middle ones for an even count); empty when no incident of
-- the row has that time.
-- incidents: postmortems in the row. detected_internally: incidents with an internal detect time and
--   no customer detect time before it (a tie counts as internal); pct_detected_internally = 100 *
--   detected_internally / incidents.
-- median_minutes_to_detect: the earlier of customer and internal detect - first trigger (incidents
--   with a trigger and a detect time). median_minutes_to_recover: recovery - first trigger.
-- over_60_minutes: incidents whose time to recover is over 60 minutes.
-- median_hours_recovery_to_rca: RCA - recovery, in hours.
-- impacted_customers, failed_requests: sums over the incidents that have the number (NaN and null
--   are left out); empty when none has.
-- chart: stacked-bar x=month y=incidents series=severity_level title="Incidents per month, by severity" unit="incidents"
WITH per_incident AS (
    SELECT
        substr(incident_date, 1, 7) AS month,
        severity_level,
        CASE
            WHEN time_of_internal_detect_epoch IS NOT NULL
                 AND (time_of_customer_detect_epoch IS NULL
                      OR time_of_customer_detect_epoch >= time_of_internal_detect_epoch)
            THEN 1 ELSE 0
        END AS is_internal,
        CASE
            WHEN time_of_customer_detect_epoch IS NULL THEN time_of_internal_detect_epoch
            WHEN time_of_internal_detect_epoch IS NULL THEN time_of_customer_detect_epoch
            WHEN time_of_customer_detect_epoch < time_of_internal_detect_epoch THEN time_of_customer_detect_epoch
            ELSE time_of_internal_detect_epoch
        END - time_of_first_trigger_epoch AS detect_seconds,
        time_of_recovery_epoch - time_of_first_trigger_epoch AS recover_seconds,
        time_of_rca_epoch - time_of_recovery_epoch AS rca_seconds,
        number_of_impacted_customers,
        number_of_failed_requests
    FROM incidents
),
ranked AS (
    SELECT
        p.*,
        ROW_NUMBER() OVER (
            PARTITION BY month, severity_level, CASE WHEN detect_seconds IS NULL THEN 1 ELSE 0 END
            ORDER BY detect_seconds
        ) AS detect_rank,
        COUNT(detect_seconds) OVER (PARTITION BY month, severity_level) AS detect_n,
        ROW_NUMBER() OVER (
            PARTITION BY month, severity_level, CASE WHEN recover_seconds IS NULL THEN 1 ELSE 0 END
            ORDER BY recover_seconds
        ) AS recover_rank,
        COUNT(recover_seconds) OVER (PARTITION BY month, severity_level) AS recover_n,
        ROW_NUMBER() OVER (
            PARTITION BY month, severity_level, CASE WHEN rca_seconds IS NULL THEN 1 ELSE 0 END
            ORDER BY rca_seconds
        ) AS rca_rank,
        COUNT(rca_seconds) OVER (PARTITION BY month, severity_level) AS rca_n
    FROM per_incident p
),
marked AS (
    -- *_mid: the middle value(s) of each time.
    SELECT
        r.*,
        CASE WHEN detect_seconds IS NOT NULL AND 2 * detect_rank BETWEEN detect_n AND detect_n + 2 THEN detect_seconds END AS detect_mid,
        CASE WHEN recover_seconds IS NOT NULL AND 2 * recover_rank BETWEEN recover_n AND recover_n + 2 THEN recover_seconds END AS recover_mid,
        CASE WHEN rca_seconds IS NOT NULL AND 2 * rca_rank BETWEEN rca_n AND rca_n + 2 THEN rca_seconds END AS rca_mid
    FROM ranked r
)
SELECT
    month,
    severity_level,
    COUNT(*) AS incidents,
    SUM(is_internal) AS detected_internally,
    weir_round(CAST(SUM(is_internal) AS DOUBLE) * 100 / COUNT(*), 1) AS pct_detected_internally,
    weir_round(CAST(SUM(detect_mid) AS DOUBLE) / (60 * COUNT(detect_mid)), 1) AS median_minutes_to_detect,
    weir_round(CAST(SUM(recover_mid) AS DOUBLE) / (60 * COUNT(recover_mid)), 1) AS median_minutes_to_recover,
    SUM(CASE WHEN recover_seconds > 3600 THEN 1 ELSE 0 END) AS over_60_minutes,
    weir_round(CAST(SUM(rca_mid) AS DOUBLE) / (3600 * COUNT(rca_mid)), 1) AS median_hours_recovery_to_rca,
    CAST(SUM(number_of_impacted_customers) AS BIGINT) AS impacted_customers,
    CAST(SUM(number_of_failed_requests) AS BIGINT) AS failed_requests
FROM marked
GROUP BY month, severity_level
ORDER BY month, CASE WHEN severity_level IS NULL THEN 1 ELSE 0 END, severity_level
