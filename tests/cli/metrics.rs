//! The reliability reports of issue 13 on a fixture built by hand for them
//! (tests/fixtures/metrics/): every expected value is worked out in the comments, and every
//! engine must write exactly these bytes. Minutes are rounded to 1 decimal, half away from zero;
//! a median is the middle value (the mean of the two middle ones), a p90 the value at rank
//! ceil(0.9 n) in ascending order.

use crate::harness::{Project, engines};

/// A report as weir writes it: CRLF line ends, NULL as an empty cell, reals in their shortest
/// form (5.0 as `5`).
fn csv(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

#[test]
fn reliability_metrics_are_exact_on_every_engine() {
    for engine in engines() {
        let p = Project::fixture("metrics");
        p.ok(&["--engine", engine, "run"]);
        for (name, want) in [
            ("pagerduty_response_times", response_times()),
            ("pagerduty_interruptions", interruptions()),
            ("incident_response", incident_response()),
            ("root_cause_recurrence", root_cause_recurrence()),
            ("slo_error_budget", slo_error_budget()),
        ] {
            let got = p.read(&format!("output/{name}.csv"));
            assert_eq!(got, want, "{engine}: report `{name}`");
        }
    }
}

/// raw_data/pagerduty_*: times are UTC, minutes from the incident's created_at.
fn response_times() -> String {
    // API Gateway (PSAPI01), March (created_at in UTC):
    //   PA00001 10:00:00: acknowledged 10:02:00 (Ana) and again 10:09:00 (Bernd, after an
    //     unacknowledge): the first counts, 2 min; resolved by Ana 10:30:00: 30 min.
    //   PA00002 14:00:00: escalated 14:05, acknowledged 14:05:30: 5.5 min; resolved by Bernd 45 min.
    //   PA00003 03:00:00: escalated 03:05, never acknowledged, resolved by the Datadog integration
    //     03:12: 12 min; resolved without ack, auto-resolved.
    //   PA00004 created 03-31 23:50:00 (ack and resolve on 04-01): counts in March; ack 00:01 =
    //     11 min, resolved by Ana 01:20 = 90 min.
    //   ack 2, 5.5, 11 (n = 3, odd): median 5.5; p90 rank ceil(2.7) = 3: 11.
    //   resolve 12, 30, 45, 90 (n = 4, even): median (30 + 45) / 2 = 37.5; p90 rank ceil(3.6) = 4: 90.
    //   escalated 2 (PA00002, PA00003); resolved_without_ack 1 and auto_resolved 1 (PA00003).
    // API Gateway, April: one incident, PA00005 09:00:00: acknowledged 09:04:03 = 243 s = 4.05 min
    //   -> 4.1 (half away from zero on the decimal text; the double nearest 4.05 is below it, so a
    //   binary rounding gives 4.0); no resolve entry, resolved_at 09:25:30 = 25.5 min. With n = 1 the
    //   median and the p90 (rank ceil(0.9) = 1) are the value itself.
    // Billing (PSBIL02), March:
    //   PB00001 08:00: ack 08:03 = 3; resolved by Zed (a user) 08:20 = 20.
    //   PB00002 08:00: ack 08:03 = 3 (tie); resolved by the Billing service 08:20 = 20 (tie): auto.
    //   PB00003 08:00: ack 08:10 = 10; resolved by timeout, no agent (PagerDuty itself), 09:00 = 60: auto.
    //   PB00004 12:00: ack 12:30 = 30; still open: not resolved.
    //   ack 3, 3, 10, 30 (n = 4): median (3 + 10) / 2 = 6.5; p90 rank 4: 30.
    //   resolve 20, 20, 60 (n = 3): median 20 (the tie); p90 rank 3: 60.
    //   escalated 0, resolved_without_ack 0, auto_resolved 2 (PB00002, PB00003).
    // Search (PSSRH03) has no incident: no row.
    csv(&[
        "service_id,service,month,incidents,acknowledged,median_minutes_to_acknowledge,p90_minutes_to_acknowledge,resolved,median_minutes_to_resolve,p90_minutes_to_resolve,escalated,resolved_without_ack,auto_resolved",
        "PSAPI01,API Gateway,2026-03,4,3,5.5,11,4,37.5,90,2,1,1",
        "PSAPI01,API Gateway,2026-04,1,1,4.1,4.1,1,25.5,25.5,0,0,0",
        "PSBIL02,Billing,2026-03,4,4,6.5,30,3,20,60,0,0,2",
    ])
}

/// raw_data/pagerduty_log_entries/page-0002.json: notify entries; business 08:00-17:59 Mon-Fri,
/// sleep 22:00-07:59, off the rest, all in the user's local time.
fn interruptions() -> String {
    // Ana Lima, America/New_York (forward 2026-03-08 at 07:00Z, back 2026-11-01 at 06:00Z):
    //   03-08T06:30Z = Sun 01:30 EST, the night clocks go forward: sleep (2026-03).
    //   03-09T12:30Z = Mon 08:30 EDT: business (07:30, sleep, if EST were kept).
    //   03-09T13:00Z by e-mail, and 13:05Z by `email_notification` (the API schema's name): not counted.
    //   11-01T00:30Z = Sat 10-31 20:30 EDT: off, in 2026-10 although November in UTC.
    //   11-01T05:30Z = 01:30 EDT and 11-01T06:30Z = 01:30 EST (the hour repeats): sleep twice.
    //   11-02T12:30Z = Mon 07:30 EST: sleep (08:30, business, if EDT were kept).
    //   -> 2026-03: 2 = 1 business + 1 sleep; 2026-10: 1 off; 2026-11: 3 sleep.
    // Bernd Maier, Europe/Berlin (forward 2026-03-29 at 01:00Z, back 2026-10-25 at 01:00Z):
    //   03-29T00:30Z = Sun 01:30 CET, the night clocks go forward: sleep.
    //   03-30T06:30Z = Mon 08:30 CEST: business. 03-31T22:30Z = Wed 04-01 00:30 CEST: sleep, 2026-04.
    //   10-24T23:30Z = Sun 10-25 01:30 CEST, the night clocks go back: sleep.
    //   10-26T16:30Z = Mon 17:30 CET: business (18:30, off, with CEST).
    //   10-26T17:00Z with the older shape `channel: {type: email}`: not counted.
    //   -> 2026-03: 1 business + 1 sleep; 2026-04: 1 sleep; 2026-10: 1 business + 1 sleep.
    // Eve Mailer: e-mail only (both shapes): no row.
    // Kai Akana, Pacific/Honolulu (UTC-10):
    //   06-01T02:00Z = Sun 05-31 16:00: off (weekend), 2026-05.
    //   06-01T17:59:59Z = Mon 07:59:59: sleep; 06-01T18:00Z = Mon 08:00: business.
    // Sione Tupou, Pacific/Tongatapu (UTC+13):
    //   05-31T20:00Z (a Sunday in UTC) = Mon 06-01 09:00: business, 2026-06.
    //   06-05T05:00Z = Fri 18:00: off. 06-05T19:00Z = Sat 06-06 08:00: off (a weekend morning).
    // Zed Nobody, no time zone: UTC, shown as `UTC`:
    //   Wed 06-03 17:59:59 business; 18:00 off; 21:59:59 off; 22:00 sleep; Sat 06-06 10:00 off;
    //   Sun 06-07 23:30 sleep; Mon 06-08 09:00 by e-mail not counted -> 6 = 1 + 3 + 2.
    csv(&[
        "user_id,user,time_zone,month,interruptions,business_hours,off_hours,sleep_hours",
        "PUANA01,Ana Lima,America/New_York,2026-03,2,1,0,1",
        "PUANA01,Ana Lima,America/New_York,2026-10,1,0,1,0",
        "PUANA01,Ana Lima,America/New_York,2026-11,3,0,0,3",
        "PUBER02,Bernd Maier,Europe/Berlin,2026-03,2,1,0,1",
        "PUBER02,Bernd Maier,Europe/Berlin,2026-04,1,0,0,1",
        "PUBER02,Bernd Maier,Europe/Berlin,2026-10,2,1,0,1",
        "PUKAI04,Kai Akana,Pacific/Honolulu,2026-05,1,0,1,0",
        "PUKAI04,Kai Akana,Pacific/Honolulu,2026-06,2,1,0,1",
        "PUSIO05,Sione Tupou,Pacific/Tongatapu,2026-06,3,1,2,0",
        "PUZED06,Zed Nobody,UTC,2026-06,6,1,3,2",
    ])
}

/// raw_data/incidents/2026.yaml, times in UTC; minutes from the first trigger.
fn incident_response() -> String {
    // 2026-01 SEV1:
    //   Checkout timeouts (01-05): trigger 10:00, internal 10:04, no customer detect: internal;
    //     detect 4, recover 40, RCA 24 h after recovery; 100 customers, 1000 requests.
    //   Cart errors (01-20): trigger 10:20, customer 10:25 before internal 10:30: not internal;
    //     detect 5 (the earlier, customer), recover 60 (not over 60), no RCA; 50, NaN.
    //   Payments database failover (01-31): trigger 23:30, internal 23:33 before customer 23:40:
    //     internal; detect 3; recovery 02-01 00:45: 75 (over 60); RCA 02-02 12:45: 36 h; 1000, 20000.
    //   -> 3 incidents, 2 internal = 66.666.. % -> 66.7; detect 3, 4, 5 -> 4; recover 40, 60, 75
    //   -> 60; over_60 1; RCA 24, 36 -> 30; customers 1150; requests 1000 + 20000 = 21000.
    // 2026-01 SEV2:
    //   Card declines (01-05): trigger 09:00, customer and internal both 09:10 (a tie: internal);
    //     detect 10, recover 120 (over 60), RCA 48 h; customers NaN, 500 requests.
    //   Checkout page blank (01-20): trigger 10:50, internal 10:52: detect 2, recover 60, RCA 24 h;
    //     customers null, 200 requests.
    //   -> 2, 2 = 100 %; detect (2 + 10) / 2 = 6; recover (60 + 120) / 2 = 90; over_60 1;
    //   RCA (24 + 48) / 2 = 36; customers empty (NaN and null only); requests 700.
    // 2026-01 SEV3, a single incident, Checkout latency: no detect time: 0 internal, 0 %, detect
    //   empty; recover 30; no RCA; both counts NaN: empty.
    // 2026-01 without severity (after the others), Checkout button unresponsive: customer 11:05
    //   only: not internal, detect 5; recover 10; RCA 1 h; 10 customers, 0 requests.
    // 2026-02: no incident, no row.
    // 2026-03 without severity (`severity_level: null`), Search results empty: no trigger, so
    //   no detect or recover time; counts NaN: empty.
    // 2026-04 SEV2, Card declines (04-05), written with +02:00: trigger 14:00Z, internal 14:10Z,
    //   recovery 14:40Z, RCA a day later: detect 10, recover 40, RCA 24 h; 20 and 300.
    // 2026-04 SEV3, Coupons rejected: internal 08:01:30: detect 1.5; no recovery: recover empty,
    //   over_60 0; 5 customers, requests NaN.
    csv(&[
        "month,severity_level,incidents,detected_internally,pct_detected_internally,median_minutes_to_detect,median_minutes_to_recover,over_60_minutes,median_hours_recovery_to_rca,impacted_customers,failed_requests",
        "2026-01,SEV1,3,2,66.7,4,60,1,30,1150,21000",
        "2026-01,SEV2,2,2,100,6,90,1,36,,700",
        "2026-01,SEV3,1,0,0,,30,0,,,",
        "2026-01,,1,0,0,5,10,0,1,10,0",
        "2026-03,,1,0,0,,,0,,,",
        "2026-04,SEV2,1,1,100,10,40,0,24,20,300",
        "2026-04,SEV3,1,1,100,1.5,,0,,5,",
    ])
}

fn root_cause_recurrence() -> String {
    // deployment: Checkout timeouts 01-05 (Storefront), Cart errors 01-20 (Storefront, Payments),
    //   Coupons rejected 04-21 (Storefront). Cart errors recurs (Storefront, 15 days after);
    //   Coupons does not: Cart errors is 91 days before it, Checkout timeouts 106.
    //   -> 3 incidents, entities Storefront and Payments = 2, 1 recurrence.
    // third-party dependency: Card declines 01-05 and 04-05 (Payments), exactly 90 days apart
    //   (26 + 28 + 31 + 5): a recurrence (<= 90).
    // capacity: Checkout page blank and Checkout latency, both 01-20 on Storefront: the same date
    //   is not earlier, 0.
    // configuration change: Checkout page blank only. human error: Checkout button, entities
    //   Storefront and Mobile = 2. infrastructure failure: the failover, Payments and Storefront = 2.
    // software bug: Cart errors (Storefront, Payments) and Search results empty (Search) share
    //   no entity: 0 recurrences, 3 entities.
    // Sorted by recurrences (most first), then by root cause.
    csv(&[
        "root_cause,incidents,entities,recurrences,first_incident_date,last_incident_date",
        "deployment,3,2,1,2026-01-05,2026-04-21",
        "third-party dependency,2,1,1,2026-01-05,2026-04-05",
        "capacity,2,1,0,2026-01-20,2026-01-20",
        "configuration change,1,1,0,2026-01-20,2026-01-20",
        "human error,1,2,0,2026-01-20,2026-01-20",
        "infrastructure failure,1,2,0,2026-01-31,2026-01-31",
        "software bug,2,3,0,2026-01-20,2026-03-10",
    ])
}

/// schemas/reference/slos.yaml of the fixture: checkout 99.9, payments 99.5, search 99.
fn slo_error_budget() -> String {
    // Months from the first incident_date (2026-01-05) to the last (2026-04-21): January to April,
    // February included though no incident is dated in it. Minutes: 44640, 40320, 44640, 43200.
    // checkout, budget 0.1 %: 44.64 -> 44.6, 40.32 -> 40.3, 44.6, 43.2.
    //   January: Checkout timeouts [10:00, 10:40) = 40; on 01-20 Cart errors [10:20, 11:20), Page
    //   blank [10:50, 11:50), Button [11:00, 11:10) (inside) and Latency [11:30, 12:00) (after the
    //   previous interval's end 11:10 but before the latest end so far, 11:50) make one stretch
    //   [10:20, 12:00) = 100, not 60 + 60 + 10 + 30; the failover [01-31 23:30, 02-01 00:45) up to
    //   the month's end = 30. 40 + 100 + 30 = 170; used 100 * 170 / 44.64 = 380.82 -> 380.8.
    //   6 incidents (the Button lists checkout under two entities and counts once), all timed.
    //   February: the rest of the failover, 45; 100 * 45 / 40.32 = 111.6; no incident dated in it.
    //   March: nothing. April: Coupons rejected has no recovery: 1 incident without duration, 0.
    // payments, budget 0.5 %: 223.2, 201.6, 223.2, 216.
    //   January: Card declines 120 + Cart errors 60 + failover 30 = 210; 94.09 -> 94.1; 3 incidents.
    //   February: 45; 22.32 -> 22.3. March: 0. April: Card declines [14:00Z, 14:40Z) = 40; 18.52 -> 18.5.
    // search, budget 1 %: 446.4, 403.2, 446.4, 432; Search results empty (03-10) has no trigger:
    //   1 incident without duration, no downtime.
    csv(&[
        "product,month,target,budget_minutes,downtime_minutes,budget_used_pct,incidents,incidents_without_duration",
        "checkout,2026-01,99.9,44.6,170,380.8,6,0",
        "checkout,2026-02,99.9,40.3,45,111.6,0,0",
        "checkout,2026-03,99.9,44.6,0,0,0,0",
        "checkout,2026-04,99.9,43.2,0,0,1,1",
        "payments,2026-01,99.5,223.2,210,94.1,3,0",
        "payments,2026-02,99.5,201.6,45,22.3,0,0",
        "payments,2026-03,99.5,223.2,0,0,0,0",
        "payments,2026-04,99.5,216,40,18.5,1,0",
        "search,2026-01,99,446.4,0,0,0,0",
        "search,2026-02,99,403.2,0,0,0,0",
        "search,2026-03,99,446.4,0,0,1,1",
        "search,2026-04,99,432,0,0,0,0",
    ])
}
