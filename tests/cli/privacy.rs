//! Privacy by construction: `privacy:` in mappers, `pii:` checked by validate, the secret that
//! pseudonymises (missing, rotated, never shown), and `weir scan-pii` on the shipped sample and
//! on a planted leak. See: issue 16.

use crate::harness::{Project, REPO, engines};

/// `ada@acme.example` pseudonymised with the sample's published secret, computed with Python:
/// `hmac.new(b"weir-sample-secret-for-the-shipped-data-only", b"ada@acme.example",
/// hashlib.sha256).hexdigest()`.
const ADA: &str = "9db95d86aa780ff86022f601f6c59b433487477893edd4c2ca7dfd736d1de5ba";

/// The same with the secret `a-test-secret-that-must-not-leak-0042`.
const ADA_ROTATED: &str = "094bb4120878a309ba93d0eebeef3ffdbf78f489d06b88730c725440f4f29408";

const SECRET: &str = "a-test-secret-that-must-not-leak-0042";

#[test]
fn the_sample_after_run_passes_scan_pii() {
    let p = Project::shipped();
    let out = p.ok(&["run"]);
    assert!(
        out.stderr.starts_with(
            "note: pseudonymising with the sample's published secret (`.env`); set your own WEIR_HASH_SECRET before loading real data\n"
        ),
        "{}",
        out.stderr
    );
    let out = p.ok(&["scan-pii"]);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with("ok: "), "{}", out.stderr);
    // Names are kept, emails pseudonymised to the independent test vector.
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT name, email FROM pagerduty_users WHERE name = 'Ada Lovelace'"
        ),
        [format!("Ada Lovelace|{ADA}")]
    );
    assert!(
        p.read("output/pagerduty_oncall_load.csv")
            .contains("Ada Lovelace,Payments,")
    );
    let addresses = p.sql(
        "sqlite",
        "SELECT DISTINCT address FROM pagerduty_user_contact_methods ORDER BY 1",
    );
    assert_eq!(addresses, ["***", "***@acme.example"]);
}

#[test]
fn the_same_email_in_two_sources_hashes_alike() {
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    // Datadog's creator handle is the PagerDuty user's email: the pseudonyms join.
    let joined = p.sql(
        "sqlite",
        "SELECT DISTINCT u.name FROM pagerduty_users u \
         JOIN datadog_monitors m ON m.creator_handle = u.email ORDER BY 1",
    );
    assert!(joined.contains(&"Ada Lovelace".to_string()), "{joined:?}");
    assert!(joined.len() >= 3, "{joined:?}");
    // A differently written email (case, blanks) is the same person.
    for page in ["page-0001.json", "page-0002.json", "page-0004.json"] {
        let rel = format!("raw_data/datadog_monitors/{page}");
        let text = p.read(&rel).replace(
            r#""handle": "ada@acme.example""#,
            r#""handle": "  ADA@Acme.example ""#,
        );
        p.write(&rel, &text);
    }
    p.ok(&["run-etl"]);
    let ada = p.sql(
        "sqlite",
        "SELECT DISTINCT m.creator_handle FROM datadog_monitors m \
         JOIN pagerduty_users u ON m.creator_handle = u.email WHERE u.name = 'Ada Lovelace'",
    );
    assert_eq!(ada, [ADA]);
}

#[test]
fn a_planted_email_in_an_unmarked_field_fails_the_scan() {
    let p = Project::shipped();
    let teams = p.read("raw_data/pagerduty_teams/page-0001.json").replace(
        "iOS and Android apps, push notifications and the mobile API",
        "Ask Mobile.Lead@Acme.example or call +1 415 555 0199",
    );
    p.write("raw_data/pagerduty_teams/page-0001.json", &teams);
    p.ok(&["run"]);
    let out = p.weir(&["scan-pii"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 1
    --- stdout
    where                                    column                   kind     count  status   sample
    pagerduty_teams                          description              email        1  found    ***@acme.example
    pagerduty_teams                          description              phone        1  found    +1 ***
    --- stderr
    error: 1 column holds values that look personal, outside the columns marked `privacy: allow`
      hint: protect them with `privacy: pseudonymize`, `drop`, `mask` or `redact` in their mappers (docs/MAPPERS.md), reload with `weir run-etl --full`, and scan again
    ");
    assert!(!out.stdout.contains("Mobile.Lead") && !out.stdout.contains("0199"));
    // Marked as allowed, the same column passes.
    let mapper = p.read("mappers/pagerduty_teams.yaml").replace(
        "  description: description",
        "  description: {from: description, privacy: allow}",
    );
    p.write("mappers/pagerduty_teams.yaml", &mapper);
    let out = p.weir(&["scan-pii"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.contains(" allowed "), "{}", out.stdout);
}

#[test]
fn a_report_that_shows_a_raw_email_fails_the_scan() {
    let p = Project::shipped();
    p.write(
        "queries/zz_leak.sql",
        "SELECT 'ops' || '@' || 'acme.example' AS contact",
    );
    p.ok(&["run"]);
    let out = p.weir(&["scan-pii"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("output/zz_leak.csv                       contact                  email        1  found    ***@acme.example"),
        "{}",
        out.stdout
    );
}

#[test]
fn without_the_secret_nothing_is_loaded() {
    let p = Project::shipped();
    std::fs::remove_file(p.path(".env")).unwrap();
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT (SELECT count(*) FROM pagerduty_users) + (SELECT count(*) FROM incidents)"
        ),
        ["0"]
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("WEIR_HASH_SECRET is not set"),
        "{}",
        out.stderr
    );
    // scan-pii needs no secret.
    let out = p.weir(&["scan-pii"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
}

#[test]
fn a_short_secret_is_refused_without_being_shown() {
    let p = Project::shipped();
    let out = p.weir_env(&["run-etl"], &[("WEIR_HASH_SECRET", "hunter2")]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: WEIR_HASH_SECRET: the secret is shorter than 16 characters, too short to keep pseudonyms from being guessed
      hint: choose a long random one, e.g. the output of `openssl rand -hex 32`
    ");
}

#[test]
fn validate_names_an_unprotected_pii_path() {
    let p = Project::shipped();
    p.write(
        "mappers/pagerduty_users.yaml",
        &p.read("mappers/pagerduty_users.yaml")
            .replace("{from: email, privacy: pseudonymize}", "email")
            .replace(
                "{from: address, privacy: mask}",
                "{from: address, privacy: allow}",
            ),
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr);
    let out = p.weir(&["run-etl"]);
    assert_eq!(
        out.code, 1,
        "a mapper with an unprotected pii path loads nothing"
    );
}

#[test]
fn privacy_must_suit_its_column() {
    let p = Project::shipped();
    p.write(
        "mappers/pagerduty_users.yaml",
        &p.read("mappers/pagerduty_users.yaml")
            .replace("  id: id\n", "  id: {from: id, privacy: drop}\n")
            .replace(
                "  role: role\n",
                "  role: {from: role, privacy: pseudonymise}\n",
            )
            .replace(
                "  invitation_sent: invitation_sent\n",
                "  invitation_sent: {from: invitation_sent, privacy: mask}\n",
            ),
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn the_secret_never_appears_in_output_logs_files_or_the_database() {
    let p = Project::shipped();
    let env = [("WEIR_HASH_SECRET", SECRET)];
    let mut seen = String::new();
    for args in [
        &["-v", "run"][..],
        &["-v", "run-etl", "--full"],
        &["validate", "--json"],
        &["run", "--json"],
        &["scan-pii"],
    ] {
        let out = p.weir_env(args, &env);
        seen.push_str(&out.stdout);
        seen.push_str(&out.stderr);
    }
    // A bad .env line, which holds it, is not quoted either.
    p.write(
        ".env",
        &format!("WEIR_HASH_SECRET={SECRET}\nthis line ' {SECRET}\n"),
    );
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1);
    seen.push_str(&out.stderr);
    assert!(!seen.contains(SECRET), "{seen}");
    for file in p.files("") {
        if file == ".env" {
            continue;
        }
        let bytes = std::fs::read(p.path(&file)).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(!hay.contains(SECRET), "the secret is in {file}");
    }
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT email FROM pagerduty_users WHERE name = 'Ada Lovelace'"
        ),
        [ADA_ROTATED]
    );
}

#[test]
fn a_new_secret_reloads_every_pseudonymised_source() {
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    let out = p.weir_env(&["run-etl"], &[("WEIR_HASH_SECRET", SECRET)]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    for line in out.stderr.lines() {
        let reloaded = line.starts_with("loaded ");
        let pseudonymises = [
            "pagerduty_users",
            "sentry_issue_events",
            "datadog_monitors",
            "datadog_synthetics",
            "developer_survey",
        ]
        .iter()
        .any(|s| line.contains(&format!(" {s} ")));
        if line.starts_with("loaded ") || line.starts_with("unchanged ") {
            assert_eq!(reloaded, pseudonymises, "{line}");
        }
    }
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT email FROM pagerduty_users WHERE name = 'Ada Lovelace'"
        ),
        [ADA_ROTATED]
    );
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn pseudonyms_and_the_scan_agree_on_every_engine() {
    let mut first: Option<(String, Vec<String>)> = None;
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run"]);
        let out = p.ok(&["--engine", engine, "scan-pii"]);
        assert_eq!(out.stdout, "", "{engine}");
        let mut rows = p.sql(
            engine,
            "SELECT id || ' ' || email FROM pagerduty_users ORDER BY id",
        );
        rows.extend(p.sql(
            engine,
            "SELECT event_id || ' ' || COALESCE(user_email, '') || ' ' || COALESCE(user_ip_address, '') \
             FROM sentry_issue_events ORDER BY event_id",
        ));
        rows.extend(p.sql(
            engine,
            "SELECT user_id || ' ' || address FROM pagerduty_user_contact_methods ORDER BY id",
        ));
        assert!(rows.iter().any(|r| r.ends_with(ADA)), "{engine}: {rows:?}");
        match &first {
            None => first = Some((engine.to_string(), rows)),
            Some((other, want)) => assert_eq!(&rows, want, "{engine} differs from {other}"),
        }
        // A planted leak is found the same way on every engine.
        let teams = p.read("raw_data/pagerduty_teams/page-0001.json").replace(
            "iOS and Android apps, push notifications and the mobile API",
            "Ask mobile.lead@acme.example",
        );
        p.write("raw_data/pagerduty_teams/page-0001.json", &teams);
        p.ok(&["--engine", engine, "run-etl"]);
        let out = p.weir(&["--engine", engine, "scan-pii"]);
        assert_eq!(out.code, 1, "{engine}");
        assert!(
            out.stdout.contains("pagerduty_teams                          description              email        1  found"),
            "{engine}: {}",
            out.stdout
        );
    }
}

#[test]
fn only_a_pseudonym_drop_or_mask_protects_a_listed_path() {
    let p = Project::shipped();
    // `redact` masks the shapes it knows; a listed email in it would be one, but a listed path
    // may hold anything (a user name), so it does not count.
    p.write(
        "mappers/pagerduty_users.yaml",
        &p.read("mappers/pagerduty_users.yaml").replace(
            "{from: email, privacy: pseudonymize}",
            "{from: email, privacy: redact}",
        ),
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("mappers/pagerduty_users.yaml:14:")
            && out.stderr.contains("column `email` stores `email`"),
        "{}",
        out.stderr
    );
    // An `each_field` child's `value` holds every field not excepted: the survey's email too,
    // once `except:` stops leaving it out.
    p.write(
        "mappers/pagerduty_users.yaml",
        &std::fs::read_to_string(format!("{REPO}/mappers/pagerduty_users.yaml")).unwrap(),
    );
    p.write(
        "mappers/developer_survey.yaml",
        &p.read("mappers/developer_survey.yaml").replace(
            "except: [Timestamp, Team, Email Address]",
            "except: [Timestamp, Team]",
        ),
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("column `answer` stores `Email Address`")
            && out.stderr.contains("column `score` stores `Email Address`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_key_is_pseudonymised_or_kept_and_a_blank_value_has_no_pseudonym() {
    let p = Project::empty();
    p.sample_env();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE people (email TEXT PRIMARY KEY, backup TEXT);\n\
         CREATE TABLE phones (email TEXT, phone TEXT, PRIMARY KEY (email, phone));",
    );
    let mapper = "table: people\nkey: [email]\ncolumns:\n  email: {from: email, privacy: mask}\n  \
                  backup: {from: backup, privacy: pseudonymize}\nchildren:\n  - table: phones\n    \
                  each: phones\n    link: {email: email}\n    columns:\n      \
                  phone: {from: ., privacy: redact}\n";
    p.write("mappers/people.yaml", mapper);
    p.write(
        "raw_data/people/a.json",
        r#"[{"email": "a@example.com", "backup": "  ", "phones": []},
            {"email": "b@example.com", "backup": "", "phones": []}]"#,
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("key column `email` cannot be `privacy: mask`: every row needs its own key")
            && out.stderr.contains(
                "key column `phone` of `phones` cannot be `privacy: redact`: every row needs its own key"
            ),
        "{}",
        out.stderr
    );
    p.write(
        "mappers/people.yaml",
        &mapper
            .replace("privacy: mask", "privacy: pseudonymize")
            .replace("privacy: redact", "privacy: pseudonymize"),
    );
    p.ok(&["run-etl"]);
    assert_eq!(
        p.sql("sqlite", "SELECT count(*), count(backup) FROM people"),
        ["2|0"],
        "blank values stay NULL, not one pseudonym for both"
    );
}

#[test]
fn a_personal_value_that_cannot_be_read_is_not_quoted() {
    let p = Project::empty();
    p.sample_env();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE people (id TEXT PRIMARY KEY, cc TEXT, kind TEXT);",
    );
    p.write(
        "mappers/people.yaml",
        "table: people\nkey: [id]\ncolumns:\n  id: id\n  \
         cc: {from: cc, type: join, privacy: pseudonymize}\n  \
         kind: {from: kind, one_of: reference/kinds.yaml, privacy: mask}\n",
    );
    p.write("schemas/reference/kinds.yaml", "- staff\n- guest\n");
    p.write(
        "raw_data/people/a.json",
        r#"[{"id": "1", "cc": "ada@acme.example", "kind": "staff"},
            {"id": "2", "cc": [], "kind": "grace@acme.example"}]"#,
    );
    let out = p.weir(&["run-etl", "--on-error", "quarantine"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        !out.stderr.contains("ada@") && !out.stderr.contains("grace@"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("cannot be read as `join` (the value is not shown: column `cc` is `privacy: pseudonymize`)")
            && out.stderr.contains("is not in the list of allowed values (the value is not shown"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT count(*) FROM weir_rejected WHERE reason LIKE '%@%'"
        ),
        ["0"]
    );
}
