-- PagerDuty REST API v2: services, teams, users (with team memberships and contact methods),
-- incidents (with current assignments) and log entries. Timestamps are UTC text
-- (YYYY-MM-DDTHH:MM:SSZ); *_epoch columns hold the same instant in seconds for arithmetic.

CREATE TABLE pagerduty_services (
    id TEXT,
    name TEXT,
    description TEXT,
    status TEXT,
    created_at TEXT,
    auto_resolve_timeout BIGINT,
    acknowledgement_timeout BIGINT,
    alert_creation TEXT,
    escalation_policy_id TEXT,
    escalation_policy_name TEXT,
    team_id TEXT,
    team_name TEXT,
    urgency_rule_type TEXT,
    html_url TEXT,
    fetched_at TEXT,
    PRIMARY KEY (id)
);

CREATE TABLE pagerduty_teams (
    id TEXT,
    name TEXT,
    description TEXT,
    html_url TEXT,
    fetched_at TEXT,
    PRIMARY KEY (id)
);

CREATE TABLE pagerduty_users (
    id TEXT,
    name TEXT,
    email TEXT,
    time_zone TEXT,
    role TEXT,
    job_title TEXT,
    color TEXT,
    invitation_sent BOOLEAN,
    created_via_sso BOOLEAN,
    html_url TEXT,
    fetched_at TEXT,
    PRIMARY KEY (id)
);

-- users[].teams (team references); replaced as a set with the winning user record
CREATE TABLE pagerduty_user_teams (
    user_id TEXT,
    team_id TEXT,
    team_name TEXT,
    PRIMARY KEY (user_id, team_id)
);

-- users[].contact_methods, full objects (fetched with include[]=contact_methods).
-- Keys differ by type: country_code/blacklisted (phone, sms), send_short_email (email),
-- device_type/created_at (push).
CREATE TABLE pagerduty_user_contact_methods (
    user_id TEXT,
    id TEXT,
    type TEXT,
    label TEXT,
    address TEXT,
    country_code BIGINT,
    send_short_email BOOLEAN,
    blacklisted BOOLEAN,
    device_type TEXT,
    created_at TEXT,
    PRIMARY KEY (user_id, id)
);

CREATE TABLE pagerduty_incidents (
    id TEXT,
    incident_number BIGINT,
    title TEXT,
    status TEXT,
    urgency TEXT,
    priority TEXT,
    incident_key TEXT,
    service_id TEXT,
    service_name TEXT,
    escalation_policy_id TEXT,
    team_id TEXT,
    created_at TEXT,
    created_at_epoch BIGINT,
    updated_at TEXT,
    last_status_change_at TEXT,
    last_status_change_by_id TEXT,
    last_status_change_by_type TEXT,
    resolved_at TEXT,
    resolved_at_epoch BIGINT,
    alert_count BIGINT,
    first_trigger_log_entry_id TEXT,
    html_url TEXT,
    fetched_at TEXT,
    PRIMARY KEY (id)
);

-- incidents[].assignments: the CURRENT assignees only. PagerDuty empties the list once an
-- incident is resolved, so past assignees are found through notify log entries.
CREATE TABLE pagerduty_incident_assignments (
    incident_id TEXT,
    user_id TEXT,
    user_name TEXT,
    assigned_at TEXT,
    PRIMARY KEY (incident_id, user_id)
);

-- One row per log entry, whatever its type; keys a type does not have load as NULL
-- (agent on notify entries, user only on notify entries, acknowledgement_timeout only on
-- acknowledge entries, event_description only on trigger entries). channel_type is
-- channel.type (`auto` on notify entries); notification_type is channel.notification.type,
-- how a notify entry reached its user: sms, phone, push_notification or email.
CREATE TABLE pagerduty_log_entries (
    id TEXT,
    type TEXT,
    summary TEXT,
    created_at TEXT,
    created_at_epoch BIGINT,
    incident_id TEXT,
    incident_summary TEXT,
    service_id TEXT,
    agent_id TEXT,
    agent_type TEXT,
    agent_name TEXT,
    user_id TEXT,
    user_name TEXT,
    channel_type TEXT,
    notification_type TEXT,
    acknowledgement_timeout BIGINT,
    event_description TEXT,
    team_id TEXT,
    html_url TEXT,
    fetched_at TEXT,
    PRIMARY KEY (id)
);
