-- How the developer survey's answers move, per question and quarter of submission (`2026-Q1`,
-- from submitted_at in UTC). responses: the answers with a numeric score (1 to 5); mean_score:
-- their mean; pct_4_or_5: the percentage of them that are 4 or 5. Both rounded to 1 decimal,
-- half away from zero. A question without a scored answer in a quarter (free text) has no row.
-- chart: line x=quarter y=mean_score series=question title="Developer survey: mean score per question" unit="score (1-5)"
WITH scored AS (
    SELECT
        question,
        substr(submitted_at, 1, 4) || '-Q' || CASE
            WHEN substr(submitted_at, 6, 2) <= '03' THEN '1'
            WHEN substr(submitted_at, 6, 2) <= '06' THEN '2'
            WHEN substr(submitted_at, 6, 2) <= '09' THEN '3'
            ELSE '4'
        END AS quarter,
        score
    FROM survey_answers
    WHERE score IS NOT NULL
)
SELECT
    question,
    quarter,
    COUNT(*) AS responses,
    weir_round(CAST(SUM(score) AS DOUBLE) / COUNT(*), 1) AS mean_score,
    weir_round(CAST(SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END) AS DOUBLE) * 100 / COUNT(*), 1) AS pct_4_or_5
FROM scored
GROUP BY question, quarter
ORDER BY question, quarter
