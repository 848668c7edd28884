-- Per month of incident_date: how many incidents, how many were detected by customers first and how
-- many internally first (a tie counts as internal; an incident with neither time is in neither), and
-- the mean minutes from first trigger to internal detection, to recovery and to RCA (each mean over
-- the incidents that have both times, from whole seconds, rounded half away from zero).
-- chart: line x=month y=incidents,customer_detected title="Incidents per month" unit="incidents"
-- chart: stacked-bar x=month y=internally_detected,customer_detected title="Who detected incidents first" unit="incidents"
-- chart: line x=month y=mean_minutes_to_detect,mean_minutes_to_recover title="Mean time to detect and to recover" unit="minutes"
SELECT
    substr(incident_date, 1, 7) AS month,
    COUNT(*) AS incidents,
    COUNT(CASE
        WHEN time_of_customer_detect_epoch IS NOT NULL
             AND (time_of_internal_detect_epoch IS NULL
                  OR time_of_customer_detect_epoch < time_of_internal_detect_epoch)
        THEN 1 END) AS customer_detected,
    COUNT(CASE
        WHEN time_of_internal_detect_epoch IS NOT NULL
             AND (time_of_customer_detect_epoch IS NULL
                  OR time_of_internal_detect_epoch <= time_of_customer_detect_epoch)
        THEN 1 END) AS internally_detected,
    weir_round(SUM(time_of_internal_detect_epoch - time_of_first_trigger_epoch)
        / (60.0 * COUNT(time_of_internal_detect_epoch - time_of_first_trigger_epoch)), 1) AS mean_minutes_to_detect,
    weir_round(SUM(time_of_recovery_epoch - time_of_first_trigger_epoch)
        / (60.0 * COUNT(time_of_recovery_epoch - time_of_first_trigger_epoch)), 1) AS mean_minutes_to_recover,
    weir_round(SUM(time_of_rca_epoch - time_of_first_trigger_epoch)
        / (60.0 * COUNT(time_of_rca_epoch - time_of_first_trigger_epoch)), 1) AS mean_minutes_to_rca
FROM incidents
GROUP BY substr(incident_date, 1, 7)
ORDER BY month
