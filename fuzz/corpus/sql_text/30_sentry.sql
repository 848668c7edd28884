-- Sentry (org `acme`): raw_data/sentry_{projects,teams,issues,issue_events}/page-*.json.
-- Sentry ids are strings in the API ("4507112001"), so they are TEXT here; `count` is a string in the
-- API and is converted to BIGINT by the mapper. Timestamps are UTC text YYYY-MM-DDTHH:MM:SSZ.
-- Version: fetched_at (the page's fetch time). Sentry has no updated_at-style field on these objects,
-- and lastSeen does not move when an issue is resolved, so only the fetch time orders two copies.

-- GET /api/0/organizations/acme/projects/
CREATE TABLE sentry_projects (
    id TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT,
    platform TEXT,                 -- "" or NULL for projects without a platform
    date_created TEXT,
    first_event TEXT,              -- NULL for projects that never received an event
    team_id TEXT,                  -- legacy single `team` (nullable); see sentry_project_teams
    team_slug TEXT,
    latest_release TEXT,
    is_member BOOLEAN,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id)
);

-- projects[].teams: one row per (project, team); a project can belong to several teams or none.
CREATE TABLE sentry_project_teams (
    project_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    team_slug TEXT,
    team_name TEXT,
    PRIMARY KEY (project_id, team_id)
);

-- GET /api/0/organizations/acme/teams/
CREATE TABLE sentry_teams (
    id TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT,
    date_created TEXT,
    member_count BIGINT,
    is_member BOOLEAN,
    team_role TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id)
);

-- GET /api/0/organizations/acme/issues/ (query= empty: every status)
CREATE TABLE sentry_issues (
    id TEXT NOT NULL,
    short_id TEXT,
    title TEXT,
    culprit TEXT,
    level TEXT,
    status TEXT,                   -- unresolved, resolved, ignored (also pending_deletion, ...)
    substatus TEXT,
    priority TEXT,
    issue_category TEXT,
    project_id TEXT,
    project_slug TEXT,
    event_count BIGINT,            -- `count` (a string in the API)
    user_count BIGINT,             -- `userCount`
    first_seen TEXT,
    first_seen_epoch BIGINT,
    last_seen TEXT,
    last_seen_epoch BIGINT,
    is_unhandled BOOLEAN,
    assigned_to_type TEXT,         -- user or team, NULL when unassigned
    assigned_to_id TEXT,
    assigned_to_name TEXT,
    resolved_in_release TEXT,      -- statusDetails.inRelease
    permalink TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id)
);

-- GET /api/0/organizations/acme/issues/{issue_id}/events/; the issue id comes from the page
-- context, keyed on eventID (the event's `id` is a different value).
CREATE TABLE sentry_issue_events (
    event_id TEXT NOT NULL,
    id TEXT,
    issue_id TEXT NOT NULL,
    group_id TEXT,
    project_id TEXT,
    event_type TEXT,               -- "event.type"
    title TEXT,
    message TEXT,
    platform TEXT,
    culprit TEXT,
    location TEXT,
    date_created TEXT,
    date_created_epoch BIGINT,
    user_id TEXT,                  -- NULL when the event has no user
    user_email TEXT,
    user_ip_address TEXT,
    exception_type TEXT,           -- metadata.type
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (event_id)
);

-- events[].tags: [{key, value}]
CREATE TABLE sentry_issue_event_tags (
    event_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT,
    PRIMARY KEY (event_id, tag_key)
);
