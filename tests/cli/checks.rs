//! `weir check`: every kind passing and failing with its exact failing rows, thresholds,
//! severities and `where:`, freshness and volume by a fixed clock (`WEIR_NOW`), a bad checks file
//! located to its line and column, `weir run` with and without checks, and both engines alike.

use crate::harness::{Project, engines};

const NOW: &str = "2026-11-30T12:00:00Z";

const SCHEMA: &str = "\
CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, amount BIGINT, created_at TEXT);
CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT);
CREATE TABLE events (id TEXT PRIMARY KEY, \"at\" TEXT, at_epoch BIGINT);
";

const ORDERS: &str = r#"{"id": "o1", "customer_id": "c1", "status": "paid", "amount": 10, "created_at": "2026-11-02T10:00:00Z"}
{"id": "o2", "customer_id": "c2", "status": "paid", "amount": 20, "created_at": "2026-11-10T10:00:00Z"}
{"id": "o3", "customer_id": "c9", "status": "shipped", "amount": null, "created_at": "2026-11-12T10:00:00Z"}
{"id": "o4", "customer_id": "c1", "status": "paid", "amount": 30, "created_at": "2026-11-20T10:00:00Z"}
{"id": "o5", "customer_id": "c2", "status": "refnded", "amount": 40, "created_at": "2026-11-21T10:00:00Z"}
{"id": "o6", "customer_id": "c2", "status": "shipped", "amount": -5, "created_at": "2026-11-25T08:00:00Z"}
"#;

const CUSTOMERS: &str = r#"{"id": "c1", "name": "Ann"}
{"id": "c2", "name": "Bo"}
"#;

/// A shop: orders, customers, and events `per_week[i]` in the i-th week before the week of
/// `NOW` (the last number is the latest complete week), loaded on `engine`.
fn shop(engine: &str, per_week: &[u64], checks: &str) -> Project {
    let p = Project::empty();
    p.write("schemas/01.sql", SCHEMA);
    p.write(
        "mappers/orders.yaml",
        "table: orders\nkey: [id]\ncolumns:\n  id: id\n  customer_id: customer_id\n  status: status\n  amount: amount\n  created_at: {from: created_at, type: timestamp}\n",
    );
    p.write(
        "mappers/customers.yaml",
        "table: customers\nkey: [id]\ncolumns:\n  id: id\n  name: name\n",
    );
    p.write(
        "mappers/events.yaml",
        "table: events\nkey: [id]\ncolumns:\n  id: id\n  at: {from: at, type: timestamp}\n  at_epoch: {from: at, type: epoch}\n",
    );
    p.write("raw_data/orders/a.jsonl", ORDERS);
    p.write("raw_data/customers/a.jsonl", CUSTOMERS);
    let mut events = String::new();
    // 2026-11-23, the Monday before NOW, starts the latest complete week.
    let latest = 1_795_392_000i64;
    let weeks = per_week.len() as i64;
    for (i, n) in per_week.iter().enumerate() {
        let start = latest - (weeks - 1 - i as i64) * 7 * 86_400;
        for k in 0..*n as i64 {
            let at = jiff::Timestamp::from_second(start + 3600 + k * 60).unwrap();
            events.push_str(&format!("{{\"id\": \"e{i}-{k}\", \"at\": \"{at}\"}}\n"));
        }
    }
    p.write("raw_data/events/a.jsonl", &events);
    p.write("checks/shop.yaml", checks);
    p.ok(&["--engine", engine, "run-etl"]);
    p
}

fn check(p: &Project, engine: &str, args: &[&str]) -> crate::harness::Output {
    let mut argv = vec!["--engine", engine, "check"];
    argv.extend_from_slice(args);
    p.weir_env(&argv, &[("WEIR_NOW", NOW)])
}

const EVERY_KIND: &str = r#"
orders:
  - not_null: amount
  - not_null: amount
    name: paid_orders_have_amounts
    where: "status = 'paid'"
  - unique: [customer_id, status]
  - accepted_values: {column: status, values: [paid, shipped]}
  - relationships: {column: customer_id, to: customers.id}
  - expression: "amount >= 0"
    name: amounts_not_negative
  - row_count: {min: 10}
  - row_count: {max: 10}
    name: orders_not_too_many
customers:
  - unique: id
  - accepted_values: {column: name, values: [Ann, Bo]}
"#;

#[test]
fn every_kind_passes_or_fails_with_its_exact_failing_rows() {
    // One snapshot for every engine: they must agree.
    insta::allow_duplicates! {
        for engine in engines() {
            let p = shop(engine, &[1], EVERY_KIND);
            let out = check(&p, engine, &[]);
            assert_eq!(out.code, 4, "{}", out.transcript());
            insta::assert_snapshot!(out.stderr, @r"
            error orders_not_null_amount: 1 failing row: id=o3
            pass  paid_orders_have_amounts
            error orders_unique_customer_id_status: 1 failing row: customer_id=c1 status=paid
            error orders_accepted_values_status: 1 failing row: id=o5
            error orders_relationships_customer_id: 1 failing row: id=o3
            error amounts_not_negative: 1 failing row: id=o6
            error orders_row_count: 6 rows, expected at least 10
            pass  orders_not_too_many
            pass  customers_unique_id
            pass  customers_accepted_values_name
            checks: 4 passed, 0 warned, 6 failed
            wrote output/checks.csv
            error: 6 checks failed: `orders_not_null_amount`, `orders_unique_customer_id_status`, `orders_accepted_values_status`, `orders_relationships_customer_id`, `amounts_not_negative`, `orders_row_count`
            ");
            insta::assert_snapshot!(p.read("output/checks.csv").replace("\r\n", "\n"), @r"
            check,table,kind,severity,status,failing_rows
            orders_not_null_amount,orders,not_null,error,error,1
            paid_orders_have_amounts,orders,not_null,error,pass,0
            orders_unique_customer_id_status,orders,unique,error,error,1
            orders_accepted_values_status,orders,accepted_values,error,error,1
            orders_relationships_customer_id,orders,relationships,error,error,1
            amounts_not_negative,orders,expression,error,error,1
            orders_row_count,orders,row_count,error,error,1
            orders_not_too_many,orders,row_count,error,pass,0
            customers_unique_id,customers,unique,error,pass,0
            customers_accepted_values_name,customers,accepted_values,error,pass,0
            ");
            let failures = |name: &str| {
                p.read(&format!("output/check_failures/{name}.csv"))
                    .replace("\r\n", "\n")
            };
            assert_eq!(failures("orders_not_null_amount"), "id,amount\no3,\n");
            assert_eq!(
                failures("orders_unique_customer_id_status"),
                "customer_id,status,duplicates\nc1,paid,2\n"
            );
            assert_eq!(
                failures("orders_accepted_values_status"),
                "id,status\no5,refnded\n"
            );
            assert_eq!(
                failures("orders_relationships_customer_id"),
                "id,customer_id\no3,c9\n"
            );
            assert_eq!(
                failures("amounts_not_negative"),
                "id,customer_id,status,amount,created_at\no6,c2,shipped,-5,2026-11-25T08:00:00.000Z\n"
            );
            assert_eq!(failures("orders_row_count"), "rows,min,max\n6,10,\n");
            assert_eq!(
                p.files("output/check_failures").len(),
                6,
                "a check that passes writes no failures file"
            );
            if engine == "sqlite" {
                assert_eq!(
                    p.sql(
                        engine,
                        "SELECT load_id, check_name, status, failing_rows, checked_at FROM weir_checks \
                         WHERE check_name LIKE 'orders_r%' ORDER BY check_name"
                    ),
                    [
                        "1|orders_relationships_customer_id|error|1|2026-11-30T12:00:00Z",
                        "1|orders_row_count|error|1|2026-11-30T12:00:00Z"
                    ]
                );
            }
        }
    }
}

#[test]
fn thresholds_and_severities_decide_pass_warn_or_error() {
    let checks = r#"
orders:
  - not_null: amount
    name: one_null_is_a_warning
    error_if: ">1"
    warn_if: ">0"
  - accepted_values: {column: status, values: [paid]}
    name: three_unpaid_fail
    error_if: ">=3"
  - accepted_values: {column: status, values: [paid]}
    name: unpaid_warn_only
    severity: warn
  - relationships: {column: customer_id, to: customers.id}
    name: tolerated
    warn_if: ">5"
"#;
    let p = shop("sqlite", &[1], checks);
    let out = check(&p, "sqlite", &[]);
    assert_eq!(out.code, 4, "{}", out.transcript());
    insta::assert_snapshot!(p.read("output/checks.csv").replace("\r\n", "\n"), @r"
    check,table,kind,severity,status,failing_rows
    one_null_is_a_warning,orders,not_null,error,warn,1
    three_unpaid_fail,orders,accepted_values,error,error,3
    unpaid_warn_only,orders,accepted_values,warn,warn,3
    tolerated,orders,relationships,error,error,1
    ");
    // --select runs the named checks only; warnings alone exit 0.
    let out = check(
        &p,
        "sqlite",
        &["--select", "one_null_is_a_warning", "unpaid_warn_only"],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("warn  unpaid_warn_only: 3 failing rows: id=o3; id=o5; id=o6\n"),
        "{}",
        out.stderr
    );
    // A table's name selects its checks; an unknown name has a near one.
    let out = check(&p, "sqlite", &["--select", "tolerate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: checks/: no check or checked table `tolerate`
      hint: did you mean `tolerated`?
    ");
}

#[test]
fn singular_checks_fail_on_every_row_they_return() {
    for engine in engines() {
        let p = shop(engine, &[1], "customers:\n  - unique: id\n");
        p.write(
            "checks/big_orders.sql",
            "-- Orders above 25 need a second look.\n-- severity: warn\nSELECT id, amount FROM orders WHERE amount > 25\n",
        );
        p.write(
            "checks/no_orphans.sql",
            "SELECT id FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)",
        );
        let out = check(&p, engine, &[]);
        assert_eq!(out.code, 4, "{}", out.transcript());
        assert!(
            out.stderr
                .contains("warn  big_orders: 2 failing rows: id=o4; id=o5\n"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("error no_orphans: 1 failing row: id=o3\n"),
            "{}",
            out.stderr
        );
        assert_eq!(
            p.read("output/check_failures/big_orders.csv")
                .replace("\r\n", "\n"),
            "id,amount\no4,30\no5,40\n"
        );
        assert!(
            p.read("output/checks.csv")
                .contains("big_orders,,sql,warn,warn,2")
        );
    }
}

#[test]
fn freshness_is_judged_by_weir_now_from_the_environment_or_dotenv() {
    let checks = r#"
orders:
  - freshness: {column: created_at, warn_after: 2d, error_after: 7d}
    name: warns
  - freshness: {column: created_at, error_after: 5d}
    name: fails
  - freshness: {column: created_at, warn_after: 6d}
    name: fresh
  - freshness: {column: created_at, warn_after: 1d}
    name: nothing_paid_late
    where: "status = 'refunded'"
"#;
    // One snapshot for every engine: they must agree.
    insta::allow_duplicates! {
        for engine in engines() {
            let p = shop(engine, &[1], checks);
            let out = check(&p, engine, &[]);
            assert_eq!(out.code, 4, "{}", out.transcript());
            insta::assert_snapshot!(out.stderr, @r"
            warn  warns: the newest `created_at`, 2026-11-25T08:00:00Z, is 5d 4h old (warn after 2d)
            error fails: the newest `created_at`, 2026-11-25T08:00:00Z, is 5d 4h old (error after 5d)
            pass  fresh
            warn  nothing_paid_late: no row has a `created_at`
            checks: 1 passed, 2 warned, 1 failed
            wrote output/checks.csv
            error: check `fails` failed
            ");
            assert_eq!(
                p.read("output/check_failures/warns.csv")
                    .replace("\r\n", "\n"),
                "newest,now,age_seconds\n2026-11-25T08:00:00Z,2026-11-30T12:00:00Z,446400\n"
            );
            // From .env, a day later: everything is older.
            p.write(".env", "WEIR_NOW=2026-12-01T12:00:00Z\n");
            let out = p.weir(&["--engine", engine, "check", "--select", "fresh"]);
            assert_eq!(out.code, 0, "{}", out.transcript());
            assert!(out.stderr.contains("warn  fresh: the newest `created_at`, 2026-11-25T08:00:00Z, is 6d 4h old (warn after 6d)"), "{}", out.stderr);
            p.write(".env", "WEIR_NOW=soon\n");
            let out = p.weir(&["--engine", engine, "check"]);
            assert_eq!(out.code, 1);
            insta::assert_snapshot!(out.stderr, @r"
            error: WEIR_NOW: `soon` is not a time
              hint: write an RFC 3339 time such as `2026-11-30T12:00:00Z` or a date such as `2026-11-30`, or remove it to use the clock
            ");
        }
    }
}

const VOLUME: &str = r#"
events:
  - volume: {column: at, period: week, window: 4, max_change_pct: 50, min_rows: 5}
  - volume: {column: at_epoch, period: day, window: 3, max_change_pct: 50}
    severity: warn
"#;

/// The line of the weekly volume check, on each engine alike.
fn weekly(per_week: &[u64]) -> (i32, String) {
    let mut seen: Option<(i32, String)> = None;
    for engine in engines() {
        let p = shop(engine, per_week, VOLUME);
        let out = check(&p, engine, &["--select", "events_volume_at"]);
        let line = out.stderr.lines().next().unwrap_or_default().to_string();
        let failures =
            std::fs::read_to_string(p.path("output/check_failures/events_volume_at.csv"))
                .unwrap_or_default()
                .replace("\r\n", "\n");
        let got = (out.code, format!("{line}\n{failures}"));
        if let Some(first) = &seen {
            assert_eq!(&got, first, "{engine} differs");
        }
        seen = Some(got);
    }
    seen.unwrap()
}

#[test]
fn volume_flags_a_drop_and_a_spike_and_ignores_small_or_short_series() {
    let (code, drop) = weekly(&[10, 10, 12, 8, 2]);
    assert_eq!(code, 4);
    insta::assert_snapshot!(drop, @r"
    error events_volume_at: 2 rows in the week of 2026-11-23, 80% below the mean 10 of the 4 weeks before (max change 50%)
    period,rows,mean_before
    2026-10-26,10,
    2026-11-02,10,
    2026-11-09,12,
    2026-11-16,8,
    2026-11-23,2,10
    ");
    let (code, spike) = weekly(&[10, 10, 12, 8, 30]);
    assert_eq!(code, 4);
    assert!(
        spike.starts_with(
            "error events_volume_at: 30 rows in the week of 2026-11-23, 200% above the mean 10"
        ),
        "{spike}"
    );
    let (code, calm) = weekly(&[10, 10, 12, 8, 14]);
    assert_eq!((code, calm.as_str()), (0, "pass  events_volume_at\n"));
    let (code, small) = weekly(&[2, 3, 1, 2, 0]);
    assert_eq!(code, 0);
    assert_eq!(
        small,
        "pass  events_volume_at: not judged: 0 rows in the week of 2026-11-23, fewer than min_rows 5\n"
    );
    let (code, short) = weekly(&[10, 10, 1]);
    assert_eq!(code, 0);
    assert_eq!(
        short,
        "pass  events_volume_at: not judged: 2 of the 4 weeks before the week of 2026-11-23 hold data\n"
    );
    // An empty week inside the window counts as none: (10 + 0 + 10 + 10) / 4 = 7.5.
    let (_, gap) = weekly(&[10, 0, 10, 10, 7]);
    assert_eq!(gap, "pass  events_volume_at\n");
}

#[test]
fn a_bad_checks_file_is_located_with_every_problem_at_once() {
    let p = shop("sqlite", &[1], "customers:\n  - unique: id\n");
    p.write(
        "checks/shop.yaml",
        "orders:\n  - not_nul: amount\n  - accepted_values: {column: stauts, values: [paid]}\n  - relationships: {column: customer_id, to: customer.id}\n    severity: eror\n  - freshness: {column: created_at, warn_after: 2 days}\norder:\n  - row_count: {min: 1}\n",
    );
    let out = check(&p, "sqlite", &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: checks/shop.yaml:2:5: unknown key `not_nul` in a check
      hint: did you mean `not_null`?
    error: checks/shop.yaml:3:31: unknown column `stauts` in table `orders`
      hint: did you mean `status`?
    error: checks/shop.yaml:4:46: unknown table `customer`
      hint: did you mean `customers`?
    error: checks/shop.yaml:5:15: severity: unknown severity `eror`
      hint: did you mean `error`?
    error: checks/shop.yaml:6:49: `2 days` is not a length of time
      hint: write a whole number and a unit: `90s`, `30m`, `12h`, `2d` or `1w`
    error: checks/shop.yaml:7:1: unknown table `order`
      hint: did you mean `orders`?
    6 problems
    ");
    // SQL the engine refuses is the check's, at its line.
    p.write(
        "checks/shop.yaml",
        "orders:\n  - expression: \"amount >=\"\n    name: broken\n",
    );
    let out = check(&p, "sqlite", &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .starts_with("error: checks/shop.yaml:2:5: check `broken` does not run: "),
        "{}",
        out.stderr
    );
    // validate finds them too.
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("checks/shop.yaml:2:5: check `broken` does not run"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_has_a_json_summary() {
    let p = shop(
        "sqlite",
        &[1],
        "orders:\n  - not_null: amount\n    severity: warn\n  - unique: id\n",
    );
    let out = p.weir_env(&["check", "--json"], &[("WEIR_NOW", NOW)]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let s: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(s["command"], "check");
    assert_eq!(s["status"], "ok");
    assert_eq!(
        s["checks"],
        serde_json::json!([
            {"check": "orders_not_null_amount", "table": "orders", "kind": "not_null", "severity": "warn", "status": "warn", "failing_rows": 1},
            {"check": "orders_unique_id", "table": "orders", "kind": "unique", "severity": "error", "status": "pass", "failing_rows": 0}
        ])
    );
    assert_eq!(s["files"][0]["path"], "output/checks.csv");
    p.write("checks/shop.yaml", "orders:\n  - not_null: amount\n");
    let out = p.weir_env(&["check", "--json"], &[("WEIR_NOW", NOW)]);
    assert_eq!(out.code, 4);
    let s: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (s["status"].as_str(), s["exit_code"].as_i64()),
        (Some("checks_failed"), Some(4))
    );
}

#[test]
fn run_checks_the_sample_after_loading_unless_told_not_to() {
    let p = Project::shipped();
    let out = p.ok(&["run"]);
    let findings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warn ") || l.starts_with("error ") || l.starts_with("checks:"))
        .collect();
    insta::assert_snapshot!(findings.join("\n"), @r"
    warn  incident_has_severity: 1 failing row: incident_name=Refund API errors during provider certificate rotation incident_date=2026-10-27
    warn  sentry_issue_events_volume_date_created_epoch: 14 rows in the month of 2026-10-01, 740% above the mean 1.7 of the 3 months before (max change 200%)
    checks: 27 passed, 2 warned, 0 failed
    ");
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT count(*), count(DISTINCT load_id), min(load_id) FROM weir_checks"
        ),
        ["29|1|1"]
    );
    let p = Project::shipped();
    p.ok(&["run", "--no-checks"]);
    assert!(!p.path("output/checks.csv").exists());
    // In memory, the checks run and nothing is recorded: the database is gone at the end.
    let p = Project::shipped();
    p.ok(&["--in-memory", "run"]);
    assert!(p.path("output/checks.csv").exists());
}

#[test]
fn check_needs_a_database_and_checks() {
    let p = Project::fixture("empty");
    let out = p.weir(&["check"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("the database does not exist"),
        "{}",
        out.stderr
    );
    p.ok(&["initialize"]);
    let out = p.weir(&["check"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: checks/: there are no checks
      hint: declare some in `checks/<name>.yaml`; docs/CHECKS.md shows how
    ");
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn checks_give_identical_files_on_every_engine() {
    let mut first: Option<(String, Vec<(String, String)>)> = None;
    for engine in engines() {
        let p = shop(engine, &[10, 10, 12, 8, 2, 3], EVERY_KIND);
        p.write("checks/volume.yaml", VOLUME);
        p.write(
            "checks/big_orders.sql",
            "SELECT id, amount FROM orders WHERE amount > 25",
        );
        let out = check(&p, engine, &[]);
        assert_eq!(out.code, 4, "{}", out.transcript());
        let mut files = vec![("checks.csv".to_string(), p.read("output/checks.csv"))];
        for f in p.files("output/check_failures") {
            let text = p.read(&format!("output/check_failures/{f}"));
            files.push((f, text));
        }
        match &first {
            None => first = Some((engine.to_string(), files)),
            Some((other, expected)) => {
                assert_eq!(&files, expected, "{engine} differs from {other}");
            }
        }
    }
    // The shipped sample, too.
    let mut first: Option<String> = None;
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run"]);
        let csv = p.read("output/checks.csv");
        if let Some(expected) = &first {
            assert_eq!(&csv, expected, "{engine}: the sample's checks differ");
        }
        first = Some(csv);
    }
}

#[test]
fn numbers_in_checks_are_refused_at_0_minus_1_nan_inf_and_1e20() {
    let p = shop("sqlite", &[1], "customers:\n  - unique: id\n");
    p.write(
        "checks/shop.yaml",
        "events:\n  - volume: {column: at, window: 0}\n  - volume: {column: at, window: -1}\n  - volume: {column: at, max_change_pct: .nan}\n  - volume: {column: at, max_change_pct: .inf}\n  - row_count: {min: 1e20}\n  - freshness: {column: at, warn_after: 0d}\n  - volume: {column: at, min_rows: -1}\n",
    );
    let out = check(&p, "sqlite", &[]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: checks/shop.yaml:2:34: `window` 0 is not from 1 to 1000 periods
    error: checks/shop.yaml:3:34: `-1` is not a whole number from 0
    error: checks/shop.yaml:4:42: `.nan` is not a percentage above 0
      hint: write `max_change_pct: 50` to flag a period 50% above or below the mean
    error: checks/shop.yaml:5:42: `.inf` is not a percentage above 0
      hint: write `max_change_pct: 50` to flag a period 50% above or below the mean
    error: checks/shop.yaml:6:22: `1e+20` is not a whole number from 0
    error: checks/shop.yaml:7:41: `0d` is not a length of time
      hint: write a whole number and a unit: `90s`, `30m`, `12h`, `2d` or `1w`
    error: checks/shop.yaml:8:36: `-1` is not a whole number from 0
    7 problems
    ");
}

#[test]
fn a_time_that_cannot_be_read_fails_its_check_and_booleans_compare_alike() {
    insta::allow_duplicates! {
        for engine in engines() {
            let p = Project::empty();
            p.write(
                "schemas/01.sql",
                "CREATE TABLE runs (id TEXT PRIMARY KEY, at_text TEXT, ok BOOLEAN);",
            );
            p.write(
                "mappers/runs.yaml",
                "table: runs\nkey: [id]\ncolumns:\n  id: id\n  at_text: at\n  ok: ok\n",
            );
            p.write(
                "raw_data/runs/a.jsonl",
                "{\"id\": \"r1\", \"at\": \"2026-11-29T10:00:00Z\", \"ok\": true}\n\
                 {\"id\": \"r2\", \"at\": \"11/29/2026\", \"ok\": false}\n\
                 {\"id\": \"r3\", \"at\": null, \"ok\": null}\n",
            );
            p.write(
                "checks/runs.yaml",
                "runs:\n  - freshness: {column: at_text, warn_after: 2d}\n  \
                 - accepted_values: {column: ok, values: [true, false]}\n  \
                 - accepted_values: {column: ok, values: [true]}\n    name: all_ok\n    severity: warn\n  \
                 - not_null: [id]\n",
            );
            p.ok(&["--engine", engine, "run-etl"]);
            let out = check(&p, engine, &[]);
            // The unreadable time is the freshness check's finding; the others still run. (DuckDB
            // names the kind of its error first.)
            assert_eq!(out.code, 4, "{}", out.transcript());
            insta::assert_snapshot!(out.stderr.replace("Invalid Input Error: ", ""), @r"
            error runs_freshness_at_text: cannot be judged: weir_epoch: `11/29/2026` is neither a date YYYY-MM-DD nor a timestamp with an offset (YYYY-MM-DDTHH:MM:SSZ)
            pass  runs_accepted_values_ok
            warn  all_ok: 1 failing row: id=r2
            pass  runs_not_null_id
            checks: 2 passed, 1 warned, 1 failed
            wrote output/checks.csv
            error: check `runs_freshness_at_text` failed
            ");
        }
    }
}
