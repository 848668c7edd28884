-- Per month of incident_date: how many incidents, how many were detected by customers first, and the
-- mean minutes from first trigger to internal detection, to recovery and to RCA (each mean over the
-- incidents that have both times, from whole seconds, rounded half away from zero).
SELECT
    substr(incident_date, 1, 7) AS month,
    COUNT(*) AS incidents,
    COUNT(CASE
        WHEN time_of_customer_detect_epoch IS NOT NULL
             AND (time_of_internal_detect_epoch IS NULL
                  OR time_of_customer_detect_epoch < time_of_internal_detect_epoch)
        THEN 1 END) AS customer_detected,
    weir_round(SUM(time_of_internal_detect_epoch - time_of_first_trigger_epoch)
        / (60.0 * COUNT(time_of_internal_detect_epoch - time_of_first_trigger_epoch)), 1) AS mean_minutes_to_detect,
    weir_round(SUM(time_of_recovery_epoch - time_of_first_trigger_epoch)
        / (60.0 * COUNT(time_of_recovery_epoch - time_of_first_trigger_epoch)), 1) AS mean_minutes_to_recover,
    weir_round(SUM(time_of_rca_epoch - time_of_first_trigger_epoch)
        / (60.0 * COUNT(time_of_rca_epoch - time_of_first_trigger_epoch)), 1) AS mean_minutes_to_rca
FROM incidents
GROUP BY substr(incident_date, 1, 7)
ORDER BY month
