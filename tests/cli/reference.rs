//! Reference lists loaded as tables (`files:`), bounds on numbers, `known_in` warnings, and the
//! SQL functions weir adds to every engine.

use crate::harness::{Project, engines};

const SLOS: &str = "schemas/reference/slos.yaml";

#[test]
fn an_slo_target_outside_0_to_100_is_located_and_nothing_is_loaded() {
    let p = Project::shipped();
    p.write(
        SLOS,
        "# targets\n- {product: checkout, target: 99.9}\n- product: payments\n  target: 100\n",
    );
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    insta::assert_snapshot!(out.stderr, @r"
    note: pseudonymising with the sample's published secret (`.env`); set your own WEIR_HASH_SECRET before loading real data
    error: schemas/reference/slos.yaml:4:11: target: `100` is not below 100
      hint: column `target` takes values above 0 and below 100 (mappers/slos.yaml:12:12)
    note: nothing was loaded; the database is unchanged
    note: `--on-error quarantine` would set the bad records aside and load the rest
    ");
    assert_eq!(p.sql("sqlite", "SELECT COUNT(*) FROM slos"), ["0"]);
}

#[test]
fn an_unknown_slo_product_is_a_warning_with_a_did_you_mean() {
    let p = Project::shipped();
    p.write(
        SLOS,
        "- {product: checkout, target: 99.9}\n- {product: Paymnets, target: 99.5}\n",
    );
    let out = p.ok(&["run-etl"]);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("warning: schemas/"))
        .take(2)
        .collect();
    insta::assert_snapshot!(warnings.join("\n"), @r"
    warning: schemas/reference/slos.yaml:2:13: product: `Paymnets` is in no row of affected_products.product
      hint: did you mean `payments`?
    ");
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT product || ' ' || target FROM slos ORDER BY product"
        ),
        ["Paymnets 99.5", "checkout 99.9"]
    );
    // complete: a product taken out of the list leaves the table at the next load.
    p.write(SLOS, "- {product: checkout, target: 99.95}\n");
    let out = p.ok(&["run-etl", "slos"]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert_eq!(
        p.sql("sqlite", "SELECT product || ' ' || target FROM slos"),
        ["checkout 99.95"]
    );
}

#[test]
fn files_must_stay_inside_the_project() {
    let p = Project::shipped();
    let mapper = p.read("mappers/slos.yaml");
    p.write(
        "mappers/slos.yaml",
        &mapper.replace(
            "files: schemas/reference/slos.yaml",
            "files: ../elsewhere/slos.yaml",
        ),
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "mappers/slos.yaml:5:8: `files: ../elsewhere/slos.yaml` is not a path inside the project"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn weir_functions_give_the_same_values_on_every_engine() {
    let p = Project::fixture("empty");
    // 0.15 and 87/60 = 1.45 lie just below their halves as doubles: ROUND may give 0.1 and 1.4.
    // New York's clocks went back at 02:00 on 2026-11-01: 05:30Z and 06:30Z are both 01:30.
    p.write(
        "queries/zz.sql",
        "SELECT weir_round(0.15, 1) AS a, weir_round(87 / 60.0, 1) AS b, weir_round(-2.25, 1) AS c,
                weir_epoch('2026-11-01') AS d, weir_epoch('2026-11-01T06:30:00.000Z') AS e,
                weir_local_time('2026-11-01T05:30:00.000Z', 'America/New_York') AS f,
                weir_local_time('2026-11-01T06:30:00.000Z', 'America/New_York') AS g,
                weir_local_time('2026-03-29T00:30:00.000Z', 'Europe/Berlin') AS h,
                weir_local_time('2026-03-29T01:30:00.000Z', 'Europe/Berlin') AS i,
                weir_local_time('2026-07-01T09:00:00.000Z', 'Pacific/Honolulu') AS j,
                weir_local_time('2026-07-01T09:00:00.000Z', '') AS k,
                weir_local_time(NULL, 'UTC') AS l,
                weir_weekday('2026-12-06T23:59:59') AS m",
    );
    let mut seen = Vec::new();
    for engine in engines() {
        p.ok(&["--engine", engine, "initialize"]);
        p.ok(&["--engine", engine, "run-queries", "zz"]);
        seen.push(p.read("output/zz.csv"));
    }
    insta::assert_snapshot!(seen[0], @r"
    a,b,c,d,e,f,g,h,i,j,k,l,m
    0.2,1.5,-2.3,1793491200,1793514600,2026-11-01T01:30:00,2026-11-01T01:30:00,2026-03-29T01:30:00,2026-03-29T03:30:00,2026-06-30T23:00:00,2026-07-01T09:00:00,,7
    ");
    assert!(seen.iter().all(|s| s == &seen[0]), "{seen:?}");
    // A time zone that does not exist fails the report, naming it.
    p.write(
        "queries/zz.sql",
        "SELECT weir_local_time('2026-07-01T09:00:00.000Z', 'Mars/Olympus') AS x",
    );
    for engine in engines() {
        let out = p.weir(&["--engine", engine, "run-queries", "zz"]);
        assert_eq!(out.code, 1, "{engine}: {}", out.stderr);
        assert!(
            out.stderr.contains("unknown time zone `Mars/Olympus`"),
            "{engine}: {}",
            out.stderr
        );
    }
}
