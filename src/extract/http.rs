//! One vendor's HTTP client: auth headers, a timeout per request, a bound on requests in flight,
//! retries with exponential backoff and jitter on 5xx and connection errors (backon), and waits
//! on rate limits as each vendor's headers say. Tokens live only in the client's default headers:
//! they never reach a message, a log or a file.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use jiff::Timestamp;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::sync::Semaphore;

use super::ExtractError;
use crate::progress::Counter;

/// How a vendor says "wait": a header holding seconds to wait, or an epoch second to wait until.
#[derive(Debug, Clone, Copy)]
pub enum Reset {
    /// `header` holds the number of seconds to wait (PagerDuty, Datadog).
    SecondsIn(&'static str),
    /// `header` holds the epoch second when the limit resets (GitHub, Sentry).
    EpochIn(&'static str),
}

/// What went wrong talking to a vendor.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("GET {endpoint} was refused (HTTP {status}): check the token and its permissions")]
    Refused { endpoint: String, status: u16 },
    #[error("GET {endpoint} answered HTTP {status}: {snippet}")]
    Status {
        endpoint: String,
        status: u16,
        snippet: String,
    },
    #[error("GET {endpoint} failed after {tries} tries: {reason}")]
    GaveUp {
        endpoint: String,
        tries: u32,
        reason: String,
    },
}

/// A response: status, headers and the whole body.
pub struct Response {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A header sent with every request.
pub struct Header {
    pub name: &'static str,
    pub value: String,
    /// The variable the value comes from: a secret, never shown, and named when it cannot be sent.
    pub secret_from: Option<&'static str>,
}

impl Header {
    pub fn secret(name: &'static str, value: String, variable: &'static str) -> Header {
        Header {
            name,
            value,
            secret_from: Some(variable),
        }
    }

    pub fn plain(name: &'static str, value: &str) -> Header {
        Header {
            name,
            value: value.to_string(),
            secret_from: None,
        }
    }
}

pub struct Api {
    pub vendor: &'static str,
    pub base: Url,
    client: reqwest::Client,
    in_flight: Semaphore,
    retries: u32,
    reset: Reset,
    quiet: bool,
    /// The spinner of the entity being fetched, and its name: one at a time, since a vendor's
    /// entities are fetched one after another (the runtime has one thread, so a `RefCell`).
    counter: RefCell<Option<(String, Counter)>>,
}

/// Options every vendor shares, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub timeout: Duration,
    pub retries: u32,
    pub in_flight: usize,
    pub quiet: bool,
}

/// One try of a request that did not succeed.
enum Attempt {
    /// Worth another try: a 5xx, a timeout, a lost connection.
    Failed(String),
    /// A rate limit: try again after this long.
    Limited(Duration),
    /// No other try helps: the caller judges it.
    Final(HttpError),
}

impl Api {
    /// `headers` go with every request.
    pub fn new(
        vendor: &'static str,
        base: Url,
        headers: Vec<Header>,
        reset: Reset,
        options: Options,
    ) -> Result<Api, ExtractError> {
        let mut map = HeaderMap::new();
        for header in headers {
            let mut value =
                HeaderValue::from_str(&header.value).map_err(|_| ExtractError::BadCredential {
                    name: header.secret_from.unwrap_or(header.name).to_string(),
                    reason: "it has characters a header cannot hold".into(),
                })?;
            value.set_sensitive(header.secret_from.is_some());
            map.insert(HeaderName::from_static(header.name), value);
        }
        map.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(concat!("weir/", env!("CARGO_PKG_VERSION"))),
        );
        let client = reqwest::Client::builder()
            .default_headers(map)
            .timeout(options.timeout)
            .build()
            .map_err(|e| ExtractError::Client {
                reason: describe(&e),
            })?;
        Ok(Api {
            vendor,
            base,
            client,
            in_flight: Semaphore::new(options.in_flight.max(1)),
            retries: options.retries,
            reset,
            quiet: options.quiet,
            counter: RefCell::new(None),
        })
    }

    /// The path and query of a URL, for messages (no host: it may be a private one).
    pub fn endpoint(url: &Url) -> String {
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// A progress line on stderr (silenced by `-q`), above the spinner when one is drawn.
    pub fn progress(&self, message: &str) {
        if self.quiet {
            return;
        }
        let line = format!("{}: {message}", self.vendor);
        match &*self.counter.borrow() {
            Some((_, counter)) => counter.println(&line),
            None => eprintln!("{line}"),
        }
    }

    /// `entity` is being fetched: on a terminal its spinner starts now, before the first
    /// answer comes (a still terminal reads as a hung one).
    pub fn fetching(&self, entity: &str) {
        if !self.quiet {
            self.counter_of(entity);
        }
    }

    /// A page of `entity` is written: on a terminal the entity's spinner counts it; elsewhere
    /// (a log, a pipe) it gets a line of its own, `line`. `what` names it for the spinner.
    pub fn page_written(&self, entity: &str, records: usize, what: &str, line: &str) {
        if self.quiet {
            return;
        }
        let mut current = self.counter_of(entity);
        let (_, counter) = current.as_mut().expect("counter_of sets it");
        counter.page(records, what);
        if !counter.drawn() {
            eprintln!("{}: {line}", self.vendor);
        }
    }

    /// The counter of `entity`, started if the one before was another's (whose spinner then
    /// clears, on drop, before the next is drawn).
    fn counter_of(&self, entity: &str) -> std::cell::RefMut<'_, Option<(String, Counter)>> {
        let mut current = self.counter.borrow_mut();
        if current.as_ref().is_none_or(|(name, _)| name != entity) {
            *current = None;
            let name = format!("{}_{entity}", self.vendor);
            *current = Some((entity.to_string(), Counter::new(true, &name)));
        }
        current
    }

    /// GETs `url`, retrying what is worth retrying (rate limits included) up to `--retries`
    /// times. A 401 or 403 that is not a rate limit is final; a 404 comes back as
    /// `HttpError::Status` for the caller to judge.
    pub async fn get(&self, url: &Url) -> Result<Response, HttpError> {
        let endpoint = Api::endpoint(url);
        let _permit = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let tries = Cell::new(0u32);
        // 0.5 s, 1 s, 2 s … capped at 30 s, each plus up to as much again in jitter, so that
        // retries spread out.
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .with_max_times(self.retries as usize);
        let result = (|| {
            tries.set(tries.get() + 1);
            self.try_once(url, &endpoint)
        })
        .retry(backoff)
        .when(|attempt| !matches!(attempt, Attempt::Final(_)))
        // A rate limit waits as long as the vendor asks, not as long as the backoff says.
        .adjust(|attempt, next| match attempt {
            Attempt::Limited(wait) => next.map(|_| *wait),
            _ => next,
        })
        .notify(|attempt, wait| match attempt {
            Attempt::Limited(_) => self.progress(&format!(
                "rate limited on GET {endpoint}; waiting {}s",
                wait.as_secs()
            )),
            Attempt::Failed(reason) => self.progress(&format!(
                "GET {endpoint}: {reason}; retrying in {:.1}s",
                wait.as_secs_f64()
            )),
            Attempt::Final(_) => {}
        })
        .await;
        result.map_err(|attempt| match attempt {
            Attempt::Final(e) => e,
            Attempt::Failed(reason) => HttpError::GaveUp {
                endpoint: endpoint.clone(),
                tries: tries.get(),
                reason,
            },
            Attempt::Limited(_) => HttpError::GaveUp {
                endpoint: endpoint.clone(),
                tries: tries.get(),
                reason: "still rate limited".into(),
            },
        })
    }

    async fn try_once(&self, url: &Url, endpoint: &str) -> Result<Response, Attempt> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Attempt::Failed(describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(wait) = self.rate_limited(status, &headers) {
            return Err(Attempt::Limited(wait));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| Attempt::Failed(describe(&e)))?;
        let endpoint = endpoint.to_string();
        if status.is_success() {
            Ok(Response {
                headers,
                body: body.to_vec(),
            })
        } else if status.is_server_error() {
            Err(Attempt::Failed(format!("HTTP {}", status.as_u16())))
        } else if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            Err(Attempt::Final(HttpError::Refused {
                endpoint,
                status: status.as_u16(),
            }))
        } else {
            let snippet: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            Err(Attempt::Final(HttpError::Status {
                endpoint,
                status: status.as_u16(),
                snippet,
            }))
        }
    }

    /// How long to wait when the response is a rate limit, by the vendor's headers.
    fn rate_limited(&self, status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
        let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
        let number = |name: &str| text(name)?.parse::<f64>().ok().filter(|n| n.is_finite());
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            // GitHub answers an exhausted primary limit with 403 and no remaining requests.
            || (status == StatusCode::FORBIDDEN
                && (number("x-ratelimit-remaining") == Some(0.0) || headers.contains_key("retry-after")));
        if !limited {
            return None;
        }
        let now = Timestamp::now().as_millisecond() as f64 / 1000.0;
        // Retry-After is seconds or an HTTP-date (RFC 9110 10.2.3).
        let retry_after = number("retry-after").or_else(|| {
            let date = jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(text("retry-after")?)
                .ok()?;
            Some(date.as_millisecond() as f64 / 1000.0 - now)
        });
        let seconds = retry_after.or_else(|| match self.reset {
            Reset::SecondsIn(h) => number(h),
            Reset::EpochIn(h) => number(h).map(|at| at - now),
        });
        // Without a hint, a minute is what GitHub asks for on secondary limits.
        let seconds = seconds.unwrap_or(60.0).clamp(0.0, 3600.0);
        Some(Duration::from_secs_f64(seconds.ceil().max(1.0)))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        // reqwest's text names the URL, which never carries a secret here.
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            s.push_str(&format!(": {inner}"));
            source = inner.source();
        }
        s
    }
}
