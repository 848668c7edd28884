-- Datadog coverage per service: how many monitors each service (its `service:` tag; '(none)' for
-- monitors without one) has in each overall_state, and how many synthetics tests feed those monitors.
-- synthetics counts the tests whose monitor_id is one of the monitors in the row. Every test has
-- exactly one "synthetics alert" monitor, so each test is counted once, under its monitor's service
-- and state; the tests' own tags are not used (matching by tag would count a test again in every
-- state row of its service). A monitor with several service: tags counts under the first in
-- alphabetical order. Tags are compared case-sensitively (Datadog lowercases them).
-- chart: stacked-bar x=service y=monitors series=overall_state title="Datadog monitors per service, by state" unit="monitors"
SELECT
    COALESCE(ms.service, '(none)') AS service,
    COALESCE(m.overall_state, '(none)') AS overall_state,
    COUNT(*) AS monitors,
    SUM(COALESCE(st.tests, 0)) AS synthetics
FROM datadog_monitors m
LEFT JOIN (
    SELECT monitor_id, MIN(substr(tag, 9)) AS service
    FROM datadog_monitor_tags
    WHERE substr(tag, 1, 8) = 'service:'
    GROUP BY monitor_id
) ms ON ms.monitor_id = m.id
LEFT JOIN (
    SELECT monitor_id, COUNT(*) AS tests
    FROM datadog_synthetics
    GROUP BY monitor_id
) st ON st.monitor_id = m.id
GROUP BY COALESCE(ms.service, '(none)'), COALESCE(m.overall_state, '(none)')
ORDER BY COALESCE(ms.service, '(none)'), COALESCE(m.overall_state, '(none)')
