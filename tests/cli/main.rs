//! Integration tests: the real `weir` binary on project folders copied to a temp dir.

mod bare_bodies;
mod completions;
mod docs;
mod engines;
mod errors;
mod extract;
mod extract_refresh;
mod extract_setup;
mod extract_vendors;
mod fake_server;
mod flags;
mod harness;
mod initialize;
mod json;
mod ledger;
mod metrics;
mod properties;
mod quarantine;
mod reference;
mod reliability;
mod run;
mod run_etl;
mod run_queries;
mod settings;
mod terminal;
mod validate;
