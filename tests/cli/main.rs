//! Integration tests: the real `weir` binary on project folders copied to a temp dir.

mod bare_bodies;
mod docs;
mod engines;
mod errors;
mod extract;
mod extract_setup;
mod extract_vendors;
mod fake_server;
mod flags;
mod harness;
mod initialize;
mod ledger;
mod properties;
mod quarantine;
mod reference;
mod reliability;
mod run;
mod run_etl;
mod run_queries;
mod settings;
mod validate;
mod workbook;
