//! `weir new-incident`: the entry it appends, the bytes it keeps, the duplicates it refuses, and
//! the placeholders `weir validate` points at until they are filled.

use crate::harness::Project;

/// A fixed clock and zone: "today" is 2026-11-30.
const CLOCK: &[(&str, &str)] = &[("WEIR_NOW", "2026-11-30T09:00:00Z"), ("TZ", "UTC")];

const NOVEMBER: &str = "raw_data/incidents/2026-11.yaml";

#[test]
fn appends_a_complete_entry_after_the_files_bytes() {
    let p = Project::shipped();
    let before = p.read(NOVEMBER);
    let out = p.weir_env(&["new-incident", "Payments API 502s"], CLOCK);
    insta::assert_snapshot!(out.transcript());
    let after = p.read(NOVEMBER);
    assert!(after.starts_with(&before), "the file's old bytes changed");
    insta::assert_snapshot!("payments_api_502s_entry", &after[before.len()..]);
}

#[test]
fn the_allowed_values_come_from_the_reference_lists() {
    let p = Project::shipped();
    p.write("schemas/reference/severities.yaml", "- P1\n- P2\n");
    p.ok(&["new-incident", "Payments API 502s", "--date", "2026-11-30"]);
    let text = p.read(NOVEMBER);
    assert!(text.contains("severity_level: null                 # to fill: one of: P1, P2\n"));
    for cause in yaml_list(&p.read("schemas/reference/root_causes.yaml")) {
        assert!(text.contains(&cause), "{cause}");
    }
}

fn yaml_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(String::from)
        .collect()
}

#[test]
fn refuses_a_name_and_date_that_exist() {
    let p = Project::shipped();
    let before = p.read(NOVEMBER);
    let out = p.weir(&[
        "new-incident",
        "Checkout 5xx from payments SDK timeout",
        "--date",
        "2026-11-10",
        "--file",
        "raw_data/incidents/2027.yaml",
    ]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 1
    --- stdout
    --- stderr
    error: raw_data/incidents/2026-11.yaml:23:3: an incident `Checkout 5xx from payments SDK timeout` on 2026-11-10 is already here
      hint: an incident is known by its name and date: edit that entry, or give this one another name or `--date`
    ");
    assert_eq!(p.read(NOVEMBER), before);
    assert!(!p.path("raw_data/incidents/2027.yaml").exists());
}

#[test]
fn a_new_year_gets_its_own_file_and_a_file_without_its_last_newline_keeps_its_text() {
    let p = Project::shipped();
    p.ok(&["new-incident", "New year outage", "--date", "2027-01-01"]);
    let made = p.read("raw_data/incidents/2027.yaml");
    assert!(made.starts_with("# Added by `weir new-incident`"), "{made}");

    let old = "# hand-written\n- incident_name: Old one\n  incident_date: 2027-01-02 # last line";
    p.write("raw_data/incidents/2027.yaml", old);
    p.ok(&["new-incident", "Second", "--date", "2027-01-03"]);
    let text = p.read("raw_data/incidents/2027.yaml");
    assert!(text.starts_with(&format!("{old}\n\n# Added by")), "{text}");
    p.ok(&["validate"]);
}

#[test]
fn bad_command_lines_are_refused_with_a_fix() {
    let p = Project::shipped();
    for (args, wanted) in [
        (
            &["new-incident", "X", "--date", "2026-13-01"][..],
            "`2026-13-01` is not a date",
        ),
        (&["new-incident", "  "][..], "must be one line of text"),
        (
            &[
                "new-incident",
                "X",
                "--file",
                "raw_data/pagerduty_teams/x.yaml",
            ][..],
            "is not a YAML file of the incidents source",
        ),
        (
            &["new-incident", "X", "--file", "raw_data/incidents/x.json"][..],
            "--file",
        ),
    ] {
        let out = p.weir_env(args, CLOCK);
        assert_eq!(out.code, 1, "{args:?}: {}", out.transcript());
        assert!(out.stderr.contains(wanted), "{args:?}: {}", out.stderr);
    }
    let out = p.weir_env(&["new-incident", "X"], &[("WEIR_NOW", "tomorrow")]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("WEIR_NOW"), "{}", out.stderr);
}

#[test]
fn a_file_that_is_not_a_list_is_left_alone() {
    let p = Project::shipped();
    let text = "incident_name: not a list\n";
    p.write("raw_data/incidents/2027.yaml", text);
    let out = p.weir(&[
        "new-incident",
        "X",
        "--date",
        "2027-02-01",
        "--file",
        "raw_data/incidents/2027.yaml",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("not a YAML list of incidents"),
        "{}",
        out.stderr
    );
    assert_eq!(p.read("raw_data/incidents/2027.yaml"), text);
}

/// The values a person would write in place of each placeholder, by its key.
const FILLED: &[(&str, &str)] = &[
    (
        "postmortem_link",
        "https://wiki.acme.example/postmortems/2026-11-30-502s",
    ),
    ("severity_level", "SEV2"),
    ("entity_name", "Payments"),
    ("products", "[payments]"),
    ("root_causes", "[deployment, software bug]"),
    ("time_of_first_trigger", "2026-11-30 08:00"),
    ("time_of_customer_detect", "2026-11-30 08:07"),
    ("time_of_internal_detect", "2026-11-30 08:05"),
    ("time_of_recovery", "2026-11-30 08:45"),
    ("time_of_reconcile", "2026-11-30 10:00"),
    ("time_of_rca", "2026-12-02 15:00"),
    ("number_of_impacted_customers", "310"),
    ("number_of_failed_requests", "5021"),
    (
        "reliability_gaps",
        "No alert on the load balancer's 502 rate.",
    ),
];

#[test]
fn validate_warns_of_each_placeholder_and_the_filled_entry_loads() {
    let p = Project::shipped();
    p.weir_env(&["new-incident", "Payments API 502s"], CLOCK);
    let out = p.weir(&["validate"]);
    assert_eq!(
        out.code,
        0,
        "placeholders are warnings:\n{}",
        out.transcript()
    );
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), FILLED.len(), "{}", out.stderr);
    assert_eq!(
        warnings[0],
        "warning: raw_data/incidents/2026-11.yaml:67:20: postmortem_link: a placeholder of \
         `Payments API 502s` is still to fill"
    );
    assert!(
        out.stderr.ends_with("; 14 placeholders to fill\n"),
        "{}",
        out.stderr
    );
    let json = p.weir(&["validate", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let problems = summary["problems"].as_array().unwrap();
    assert_eq!(problems.len(), FILLED.len());
    assert!(
        problems
            .iter()
            .all(|x| x["severity"] == "warning" && x["line"].is_number())
    );

    // Fill every placeholder as a person would: the value replaces the placeholder, the comment
    // goes.
    let text = p.read(NOVEMBER);
    let filled: Vec<String> = text
        .lines()
        .map(|line| {
            let Some((code, _)) = line
                .split_once("# to fill")
                .filter(|_| !line.starts_with('#'))
            else {
                return line.to_string();
            };
            let (key, _) = code.split_once(':').unwrap();
            let key_name = key.trim().trim_start_matches("- ");
            let value = FILLED.iter().find(|(k, _)| *k == key_name).unwrap().1;
            format!("{key}: {value}")
        })
        .collect();
    p.write(NOVEMBER, &(filled.join("\n") + "\n"));
    let out = p.ok(&["validate"]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    p.ok(&["run-etl", "incidents"]);
    let db = p.path("warehouse.sqlite");
    let db = db.to_str().unwrap();
    assert_eq!(
        p.sql_at(
            db,
            "SELECT severity_level, time_of_recovery, number_of_failed_requests, reliability_gaps \
             FROM incidents WHERE incident_name = 'Payments API 502s' AND incident_date = '2026-11-30'"
        ),
        ["SEV2|2026-11-30T08:45:00.000Z|5021|No alert on the load balancer's 502 rate."]
    );
    assert_eq!(
        p.sql_at(
            db,
            "SELECT group_concat(root_cause, ',') FROM (SELECT root_cause FROM root_causes \
             WHERE incident_name = 'Payments API 502s' ORDER BY root_cause)"
        ),
        ["deployment,software bug"]
    );
    assert_eq!(
        p.sql_at(
            db,
            "SELECT entity_name || '/' || product FROM affected_products \
             WHERE incident_name = 'Payments API 502s'"
        ),
        ["Payments/payments"]
    );
}

#[test]
fn an_unfilled_entry_loads_too() {
    let p = Project::shipped();
    p.weir_env(&["new-incident", "Payments API 502s"], CLOCK);
    p.ok(&["run-etl", "incidents"]);
}

/// Every key the incidents mapper reads is in the entry: its columns' `from` paths and its
/// children's `each` lists, found in the mapper itself rather than listed here.
#[test]
fn the_entry_has_every_field_the_mapper_reads() {
    let p = Project::shipped();
    p.ok(&["new-incident", "Payments API 502s", "--date", "2026-11-30"]);
    let (mapper, _) = weir::yaml::parse(&p.read("mappers/incidents.yaml")).unwrap();
    let (file, _) = weir::yaml::parse(&p.read(NOVEMBER)).unwrap();
    let entry = file.as_array().unwrap().last().unwrap().clone();
    let mut paths = Vec::new();
    read_paths(&mapper, &[], &mut paths);
    assert!(paths.len() > 15, "{paths:?}");
    for path in paths {
        let mut at = &entry;
        for segment in &path {
            let record = match at {
                serde_json::Value::Array(items) => &items[0],
                other => other,
            };
            at = record
                .get(segment.as_str())
                .unwrap_or_else(|| panic!("the entry has no {path:?}"));
        }
    }
}

/// The record paths a mapper (or one of its children) reads, below the `each` lists in `scope`.
fn read_paths(level: &serde_json::Value, scope: &[String], out: &mut Vec<Vec<String>>) {
    for (_, column) in level["columns"].as_object().into_iter().flatten() {
        let from = column.as_str().or_else(|| column["from"].as_str()).unwrap();
        if !from.starts_with('$') && from != "." {
            let mut path = scope.to_vec();
            path.extend(from.split('.').map(String::from));
            out.push(path);
        }
    }
    for child in level["children"].as_array().into_iter().flatten() {
        let mut inner = scope.to_vec();
        inner.push(child["each"].as_str().unwrap().to_string());
        out.push(inner.clone());
        read_paths(child, &inner, out);
    }
}
