-- How much of each product's error budget incidents used: one row per product listed in
-- schemas/reference/slos.yaml and calendar month (YYYY-MM, UTC), for every month from the earliest
-- to the latest incident_date of all postmortems, months without incidents included.
-- target: the product's availability target in percent.
-- budget_minutes = (100 - target) / 100 * the minutes of the month.
-- downtime_minutes: length of the union of [first trigger, recovery) of the incidents affecting the
--   product (through any entity), each cut to the month: overlapping incidents count once, and an
--   incident over a month's end counts in both months.
-- budget_used_pct = 100 * downtime_minutes / budget_minutes (before rounding).
-- incidents: incidents affecting the product whose incident_date is in the month;
--   incidents_without_duration: those of them with no trigger or no recovery time (no downtime).
-- Minutes and percentages are rounded to 1 decimal, half away from zero.
-- chart: line x=month y=budget_used_pct series=product title="Error budget used" unit="% of budget"
WITH RECURSIVE bounds AS (
    SELECT
        substr(MIN(incident_date), 1, 7) AS first_month,
        substr(MAX(incident_date), 1, 7) AS last_month
    FROM incidents
),
months (month, next_month) AS (
    SELECT
        first_month,
        CASE
            WHEN substr(first_month, 6, 2) = '12'
                THEN CAST(CAST(substr(first_month, 1, 4) AS INTEGER) + 1 AS TEXT) || '-01'
            WHEN CAST(substr(first_month, 6, 2) AS INTEGER) < 9
                THEN substr(first_month, 1, 5) || '0' || CAST(CAST(substr(first_month, 6, 2) AS INTEGER) + 1 AS TEXT)
            ELSE substr(first_month, 1, 5) || CAST(CAST(substr(first_month, 6, 2) AS INTEGER) + 1 AS TEXT)
        END
    FROM bounds
    WHERE first_month IS NOT NULL
    UNION ALL
    SELECT
        next_month,
        CASE
            WHEN substr(next_month, 6, 2) = '12'
                THEN CAST(CAST(substr(next_month, 1, 4) AS INTEGER) + 1 AS TEXT) || '-01'
            WHEN CAST(substr(next_month, 6, 2) AS INTEGER) < 9
                THEN substr(next_month, 1, 5) || '0' || CAST(CAST(substr(next_month, 6, 2) AS INTEGER) + 1 AS TEXT)
            ELSE substr(next_month, 1, 5) || CAST(CAST(substr(next_month, 6, 2) AS INTEGER) + 1 AS TEXT)
        END
    FROM months, bounds
    WHERE next_month <= last_month
),
spans AS (
    SELECT
        month,
        weir_epoch(month || '-01') AS start_epoch,
        weir_epoch(next_month || '-01') AS end_epoch
    FROM months
),
product_incidents AS (
    SELECT DISTINCT
        ap.product AS product,
        i.incident_name AS incident_name,
        i.incident_date AS incident_date,
        i.time_of_first_trigger_epoch AS start_epoch,
        i.time_of_recovery_epoch AS end_epoch
    FROM affected_products ap
    JOIN incidents i
      ON i.incident_name = ap.incident_name
     AND i.incident_date = ap.incident_date
    WHERE ap.product IN (SELECT product FROM slos)
),
intervals AS (
    -- reach: the latest end among the product's intervals that start before this one.
    SELECT
        product,
        start_epoch,
        end_epoch,
        MAX(end_epoch) OVER (
            PARTITION BY product ORDER BY start_epoch, end_epoch
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach
    FROM product_incidents
    WHERE start_epoch IS NOT NULL AND end_epoch > start_epoch
),
islands AS (
    SELECT
        product,
        start_epoch,
        end_epoch,
        SUM(CASE WHEN reach IS NULL OR start_epoch > reach THEN 1 ELSE 0 END) OVER (
            PARTITION BY product ORDER BY start_epoch, end_epoch
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS island
    FROM intervals
),
merged AS (
    SELECT product, MIN(start_epoch) AS start_epoch, MAX(end_epoch) AS end_epoch
    FROM islands
    GROUP BY product, island
),
downtime AS (
    SELECT
        m.product AS product,
        s.month AS month,
        SUM(
            CASE WHEN m.end_epoch < s.end_epoch THEN m.end_epoch ELSE s.end_epoch END
            - CASE WHEN m.start_epoch > s.start_epoch THEN m.start_epoch ELSE s.start_epoch END
        ) AS seconds
    FROM merged m
    JOIN spans s ON m.start_epoch < s.end_epoch AND m.end_epoch > s.start_epoch
    GROUP BY m.product, s.month
),
counts AS (
    SELECT
        product,
        substr(incident_date, 1, 7) AS month,
        COUNT(*) AS incidents,
        SUM(CASE WHEN start_epoch IS NULL OR end_epoch IS NULL THEN 1 ELSE 0 END) AS incidents_without_duration
    FROM product_incidents
    GROUP BY product, substr(incident_date, 1, 7)
),
budgets AS (
    SELECT
        o.product AS product,
        s.month AS month,
        CAST(o.target AS DOUBLE) AS target,
        (100 - CAST(o.target AS DOUBLE)) / 100 * CAST(s.end_epoch - s.start_epoch AS DOUBLE) / 60 AS exact_budget_minutes,
        CAST(COALESCE(d.seconds, 0) AS DOUBLE) / 60 AS exact_downtime_minutes,
        COALESCE(c.incidents, 0) AS incidents,
        COALESCE(c.incidents_without_duration, 0) AS incidents_without_duration
    FROM slos o
    CROSS JOIN spans s
    LEFT JOIN downtime d ON d.product = o.product AND d.month = s.month
    LEFT JOIN counts c ON c.product = o.product AND c.month = s.month
)
SELECT
    product,
    month,
    target,
    weir_round(exact_budget_minutes, 1) AS budget_minutes,
    weir_round(exact_downtime_minutes, 1) AS downtime_minutes,
    weir_round(100 * exact_downtime_minutes / exact_budget_minutes, 1) AS budget_used_pct,
    incidents,
    incidents_without_duration
FROM budgets
ORDER BY product, month
