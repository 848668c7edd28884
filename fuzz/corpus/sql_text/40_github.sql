-- GitHub (org `acme`): raw_data/github_{teams,repos,repo_teams,repo_hooks}/page-*.json.
-- GitHub ids are int64 numbers (BIGINT). Timestamps are UTC text YYYY-MM-DDTHH:MM:SSZ.
-- Version: fetched_at. Repos and hooks have updated_at, but it does not move for every change a
-- fetch can see (a hook's last_response changes on each delivery without touching updated_at),
-- and teams have no such field at all, so the fetch time orders two copies.

-- GET /orgs/acme/teams
CREATE TABLE github_teams (
    id BIGINT NOT NULL,
    node_id TEXT,
    slug TEXT NOT NULL,
    name TEXT,
    description TEXT,
    privacy TEXT,                  -- closed or secret
    notification_setting TEXT,
    permission TEXT,
    team_type TEXT,                -- `type` (organization/enterprise); often missing
    parent_id BIGINT,
    parent_slug TEXT,
    html_url TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id)
);

-- GET /orgs/acme/repos?sort=full_name
CREATE TABLE github_repos (
    id BIGINT NOT NULL,
    node_id TEXT,
    name TEXT NOT NULL,
    full_name TEXT NOT NULL,       -- acme/<name>; what repo_teams/repo_hooks pages carry in context.repo
    owner_login TEXT,
    is_private BOOLEAN,
    visibility TEXT,
    description TEXT,
    is_fork BOOLEAN,
    archived BOOLEAN,
    disabled BOOLEAN,
    language TEXT,
    default_branch TEXT,
    topics TEXT,                   -- comma-joined
    license_spdx_id TEXT,
    homepage TEXT,
    stargazers_count BIGINT,
    forks_count BIGINT,
    open_issues_count BIGINT,
    created_at TEXT,
    updated_at TEXT,
    pushed_at TEXT,
    html_url TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id)
);

-- GET /repos/acme/{repo}/teams: one row per (repository, team) with that team's permission on it.
CREATE TABLE github_repo_teams (
    repo TEXT NOT NULL,            -- page context.repo, e.g. acme/checkout-api
    team_id BIGINT NOT NULL,
    team_slug TEXT,
    team_name TEXT,
    permission TEXT,               -- pull, triage, push, maintain, admin
    privacy TEXT,
    parent_slug TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (repo, team_id)
);

-- GET /repos/acme/{repo}/hooks
CREATE TABLE github_repo_hooks (
    id BIGINT NOT NULL,
    repo TEXT NOT NULL,            -- page context.repo
    hook_type TEXT,
    name TEXT,
    active BOOLEAN,
    events TEXT,                   -- comma-joined
    config_url TEXT,
    config_content_type TEXT,
    config_insecure_ssl TEXT,      -- "0"/"1" in the API, sometimes a number
    created_at TEXT,
    updated_at TEXT,
    last_response_code BIGINT,     -- NULL when last_response is null or has no code
    last_response_status TEXT,
    last_response_message TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id)
);
