-- Which root causes come up most often: incidents naming each cause, and that count as a fraction of
-- all incidents (an incident with several causes counts once for each, so shares add up to more than 1).
-- chart: bar x=root_cause y=incidents title="Incidents per root cause" unit="incidents" x-label="root cause"
SELECT
    rc.root_cause,
    COUNT(*) AS incidents,
    weir_round(COUNT(*) / CAST((SELECT COUNT(*) FROM incidents) AS DOUBLE), 3) AS share_of_incidents
FROM root_causes rc
GROUP BY rc.root_cause
ORDER BY incidents DESC, rc.root_cause
