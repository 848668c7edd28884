-- Which root causes keep coming back: one row per root cause named in a postmortem, most
-- recurrences first, then by root cause.
-- incidents: incidents naming the cause. entities: distinct affected entity names of those incidents.
-- recurrences: those of its incidents that recur, i.e. an earlier incident (strictly earlier
--   incident_date) with the same root cause and at least one same affected entity name happened at
--   most 90 days before (incident_date difference <= 90 days).
-- first_incident_date, last_incident_date: the earliest and latest incident_date with the cause.
-- chart: bar x=root_cause y=incidents,recurrences title="Incidents and recurrences per root cause" unit="incidents" x-label="root cause"
WITH recurring AS (
    SELECT DISTINCT
        later.root_cause AS root_cause,
        later.incident_name AS incident_name,
        later.incident_date AS incident_date
    FROM root_causes later
    JOIN root_causes earlier
      ON earlier.root_cause = later.root_cause
     AND earlier.incident_date < later.incident_date
     AND weir_epoch(later.incident_date) - weir_epoch(earlier.incident_date) <= 90 * 86400
    JOIN affected_products later_entity
      ON later_entity.incident_name = later.incident_name
     AND later_entity.incident_date = later.incident_date
    JOIN affected_products earlier_entity
      ON earlier_entity.incident_name = earlier.incident_name
     AND earlier_entity.incident_date = earlier.incident_date
     AND earlier_entity.entity_name = later_entity.entity_name
),
recurrences AS (
    SELECT root_cause, COUNT(*) AS recurrences
    FROM recurring
    GROUP BY root_cause
),
entities AS (
    SELECT rc.root_cause AS root_cause, COUNT(DISTINCT ap.entity_name) AS entities
    FROM root_causes rc
    JOIN affected_products ap
      ON ap.incident_name = rc.incident_name
     AND ap.incident_date = rc.incident_date
    GROUP BY rc.root_cause
),
causes AS (
    SELECT
        root_cause,
        COUNT(*) AS incidents,
        MIN(incident_date) AS first_incident_date,
        MAX(incident_date) AS last_incident_date
    FROM root_causes
    GROUP BY root_cause
)
SELECT
    c.root_cause AS root_cause,
    c.incidents AS incidents,
    COALESCE(e.entities, 0) AS entities,
    COALESCE(r.recurrences, 0) AS recurrences,
    c.first_incident_date AS first_incident_date,
    c.last_incident_date AS last_incident_date
FROM causes c
LEFT JOIN entities e ON e.root_cause = c.root_cause
LEFT JOIN recurrences r ON r.root_cause = c.root_cause
ORDER BY COALESCE(r.recurrences, 0) DESC, c.root_cause
