-- Which business units and products are hit by incidents most often, and how many customers and
-- requests those incidents affected (sums skip incidents whose counts are unknown, NaN in the YAML).
-- chart: stacked-bar x=product y=incidents series=entity_name title="Incidents per product, by business unit" unit="incidents"
SELECT
    ap.entity_name,
    ap.product,
    COUNT(*) AS incidents,
    CAST(SUM(i.number_of_impacted_customers) AS BIGINT) AS impacted_customers,
    CAST(SUM(i.number_of_failed_requests) AS BIGINT) AS failed_requests
FROM affected_products ap
JOIN incidents i
  ON i.incident_name = ap.incident_name
 AND i.incident_date = ap.incident_date
GROUP BY ap.entity_name, ap.product
ORDER BY incidents DESC, ap.entity_name, ap.product
