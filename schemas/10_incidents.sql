-- Hand-written incident postmortems: raw_data/incidents/*.yaml, loaded by mappers/incidents.yaml.
-- An incident is identified by (incident_name, incident_date). Every time_of_* is stored twice:
-- as UTC text YYYY-MM-DDTHH:MM:SSZ and as epoch seconds (*_epoch) for portable arithmetic.
-- number_of_* columns are NULL where the postmortem says NaN (unknown).
-- The postmortems are hand-written files without a fetch time or an updated_at field, and each
-- incident is written once, so the incidents table has no version column.
CREATE TABLE incidents (
    incident_name TEXT NOT NULL,
    incident_date TEXT NOT NULL,
    severity_level TEXT,
    postmortem_link TEXT,
    reliability_gaps TEXT,
    time_of_first_trigger TEXT,
    time_of_first_trigger_epoch BIGINT,
    time_of_customer_detect TEXT,
    time_of_customer_detect_epoch BIGINT,
    time_of_internal_detect TEXT,
    time_of_internal_detect_epoch BIGINT,
    time_of_recovery TEXT,
    time_of_recovery_epoch BIGINT,
    time_of_reconcile TEXT,
    time_of_reconcile_epoch BIGINT,
    time_of_rca TEXT,
    time_of_rca_epoch BIGINT,
    number_of_impacted_customers BIGINT,
    number_of_failed_requests BIGINT,
    source_file TEXT,
    source_record BIGINT,
    PRIMARY KEY (incident_name, incident_date)
);

-- One row per (business unit, product) an incident affected.
CREATE TABLE affected_products (
    incident_name TEXT NOT NULL,
    incident_date TEXT NOT NULL,
    entity_name TEXT NOT NULL,
    product TEXT NOT NULL,
    PRIMARY KEY (incident_name, incident_date, entity_name, product)
);

-- One row per root cause of an incident; values come from schemas/reference/root_causes.yaml.
CREATE TABLE root_causes (
    incident_name TEXT NOT NULL,
    incident_date TEXT NOT NULL,
    root_cause TEXT NOT NULL,
    PRIMARY KEY (incident_name, incident_date, root_cause)
);

-- Service level objectives per product: schemas/reference/slos.yaml, loaded by mappers/slos.yaml.
-- target is the percentage of time the product should be up in a month (99.9 leaves 43.2
-- minutes of a 30-day month as its error budget).
CREATE TABLE slos (
    product TEXT NOT NULL,
    target DOUBLE NOT NULL,
    PRIMARY KEY (product)
);
