-- Datadog (API v1): raw_data/datadog_{monitors,synthetics}/page-*.json.
-- Timestamps are UTC text YYYY-MM-DDTHH:MM:SSZ (the API gives microseconds and +00:00).
-- Version: fetched_at. A monitor's `modified` only moves when its definition changes, not when
-- overall_state changes, so two fetches of one monitor can share `modified` and differ in state.

-- GET /api/v1/monitor?page=N&page_size=M (a bare array)
CREATE TABLE datadog_monitors (
    id BIGINT NOT NULL,
    org_id BIGINT,
    name TEXT,
    monitor_type TEXT,             -- `type`: "query alert", "synthetics alert", "composite", ...
    query TEXT,
    message TEXT,
    overall_state TEXT,            -- Alert, Ignored, No Data, OK, Skipped, Unknown, Warn
    overall_state_modified TEXT,
    priority BIGINT,
    multi BOOLEAN,
    tags TEXT,                     -- comma-joined; one row per tag in datadog_monitor_tags
    created TEXT,
    created_at TEXT,               -- `created_at`, epoch milliseconds in the API
    modified TEXT,
    deleted TEXT,
    creator_handle TEXT,
    creator_name TEXT,
    synthetics_check_id TEXT,      -- options.synthetics_check_id for synthetics monitors
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id)
);

-- monitors[].tags: "service:checkout", "team:payments" or bare ("tier1")
CREATE TABLE datadog_monitor_tags (
    monitor_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (monitor_id, tag)
);

-- GET /api/v1/synthetics/tests?page_size=N&page_number=M ({"tests": [...]})
CREATE TABLE datadog_synthetics (
    public_id TEXT NOT NULL,
    name TEXT,
    test_type TEXT,                -- api or browser
    subtype TEXT,                  -- http, multi, ... (api tests only)
    status TEXT,                   -- live or paused
    monitor_id BIGINT,             -- links to datadog_monitors.id
    tags TEXT,                     -- comma-joined
    locations TEXT,                -- comma-joined
    request_url TEXT,              -- config.request.url (NULL for multistep tests)
    tick_every BIGINT,
    message TEXT,
    creator_handle TEXT,
    created_at TEXT,
    modified_at TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (public_id)
);
