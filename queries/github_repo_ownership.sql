-- Who owns each GitHub repository: one row per (repository, team with access) with that team's
-- permission on it (pull/triage/push/maintain/admin), and has_hooks = 1 when the repository has at
-- least one webhook (active or not), else 0. A repository no team can access gets a single row with
-- team and team_permission NULL; those repositories come first, then all rows by repository and team.
SELECT
    r.full_name AS repository,
    rt.team_slug AS team,
    rt.permission AS team_permission,
    CASE WHEN EXISTS (SELECT 1 FROM github_repo_hooks h WHERE h.repo = r.full_name) THEN 1 ELSE 0 END AS has_hooks
FROM github_repos r
LEFT JOIN github_repo_teams rt ON rt.repo = r.full_name
ORDER BY CASE WHEN rt.team_id IS NULL THEN 0 ELSE 1 END, r.full_name, rt.team_slug
