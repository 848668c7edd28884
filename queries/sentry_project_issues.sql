-- Sentry issues per project and owning team: how many of the project's issues are unresolved, and
-- how many events (sum of the issues' `count`) and affected users (sum of `userCount`) all of its
-- issues in the fetched window account for, whatever their status.
-- A project with several teams (projects[].teams) gets one row per team, each carrying the project's
-- full totals (so do not add rows up across teams); a project without a team gets one row with team
-- NULL. Projects without issues appear with zeros. users_affected adds per-issue user counts, so a
-- user hit by two issues counts twice.
SELECT
    p.slug AS project,
    pt.team_slug AS team,
    COALESCE(i.unresolved_issues, 0) AS unresolved_issues,
    COALESCE(i.events, 0) AS events,
    COALESCE(i.users_affected, 0) AS users_affected
FROM sentry_projects p
LEFT JOIN sentry_project_teams pt ON pt.project_id = p.id
LEFT JOIN (
    SELECT
        project_id,
        SUM(CASE WHEN status = 'unresolved' THEN 1 ELSE 0 END) AS unresolved_issues,
        SUM(event_count) AS events,
        SUM(user_count) AS users_affected
    FROM sentry_issues
    GROUP BY project_id
) i ON i.project_id = p.id
ORDER BY p.slug, CASE WHEN pt.team_slug IS NULL THEN 0 ELSE 1 END, pt.team_slug
