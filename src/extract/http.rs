//! One vendor's HTTP client: auth headers, a timeout per request, a bound on requests in flight,
//! retries with exponential backoff and jitter on 5xx and connection errors, and waits on rate
//! limits as each vendor's headers say. Tokens live only in the client's default headers: they
//! never reach a message, a log or a file.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::sync::Semaphore;

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

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Refused { status, .. } | HttpError::Status { status, .. } => Some(*status),
            HttpError::GaveUp { .. } => None,
        }
    }
}

/// A response: status, headers and the whole body.
pub struct Response {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub struct Api {
    pub vendor: &'static str,
    pub base: Url,
    client: reqwest::Client,
    in_flight: Semaphore,
    retries: u32,
    reset: Reset,
    quiet: bool,
}

/// Options every vendor shares, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub timeout: Duration,
    pub retries: u32,
    pub in_flight: usize,
    pub quiet: bool,
}

impl Api {
    /// `headers` are sent with every request; mark secret ones with `sensitive`.
    pub fn new(
        vendor: &'static str,
        base: Url,
        headers: Vec<(&'static str, String, bool)>,
        reset: Reset,
        options: Options,
    ) -> anyhow::Result<Api> {
        let mut map = HeaderMap::new();
        for (name, value, secret) in headers {
            let mut v = HeaderValue::from_str(&value).map_err(|_| {
                anyhow::anyhow!(
                    "the value for the `{name}` header has characters a header cannot hold"
                )
            })?;
            v.set_sensitive(secret);
            map.insert(HeaderName::from_static(name), v);
        }
        map.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(concat!("weir/", env!("CARGO_PKG_VERSION"))),
        );
        let client = reqwest::Client::builder()
            .default_headers(map)
            .timeout(options.timeout)
            .build()?;
        Ok(Api {
            vendor,
            base,
            client,
            in_flight: Semaphore::new(options.in_flight.max(1)),
            retries: options.retries,
            reset,
            quiet: options.quiet,
        })
    }

    /// The path and query of a URL, for messages (no host: it may be a private one).
    pub fn endpoint(url: &Url) -> String {
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// A progress line on stderr (silenced by `-q`).
    pub fn progress(&self, message: &str) {
        self.say(format!("{}: {message}", self.vendor));
    }

    fn say(&self, message: String) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// GETs `url`, retrying what is worth retrying. A 401 or 403 that is not a rate limit is
    /// final; a 404 comes back as `HttpError::Status` for the caller to judge.
    pub async fn get(&self, url: &Url) -> Result<Response, HttpError> {
        let endpoint = Api::endpoint(url);
        let _permit = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut tries = 0;
        loop {
            tries += 1;
            let failure = match self.client.get(url.clone()).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    if let Some(wait) = self.rate_limited(status, &headers) {
                        if tries > self.retries + 1 {
                            return Err(HttpError::GaveUp {
                                endpoint,
                                tries,
                                reason: "still rate limited".into(),
                            });
                        }
                        self.say(format!(
                            "{}: rate limited on GET {endpoint}; waiting {}s",
                            self.vendor,
                            wait.as_secs()
                        ));
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    match resp.bytes().await {
                        Ok(body) if status.is_success() => {
                            return Ok(Response {
                                headers,
                                body: body.to_vec(),
                            });
                        }
                        Ok(_) if status.is_server_error() => format!("HTTP {}", status.as_u16()),
                        Ok(_)
                            if matches!(
                                status,
                                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                            ) =>
                        {
                            return Err(HttpError::Refused {
                                endpoint,
                                status: status.as_u16(),
                            });
                        }
                        Ok(body) => {
                            let text = String::from_utf8_lossy(&body);
                            let snippet: String = text.chars().take(200).collect();
                            return Err(HttpError::Status {
                                endpoint,
                                status: status.as_u16(),
                                snippet,
                            });
                        }
                        Err(e) => describe(&e),
                    }
                }
                Err(e) => describe(&e),
            };
            if tries > self.retries {
                return Err(HttpError::GaveUp {
                    endpoint,
                    tries,
                    reason: failure,
                });
            }
            let wait = backoff(tries);
            self.say(format!(
                "{}: GET {endpoint}: {failure}; retrying in {:.1}s",
                self.vendor,
                wait.as_secs_f64()
            ));
            tokio::time::sleep(wait).await;
        }
    }

    /// How long to wait when the response is a rate limit, by the vendor's headers.
    fn rate_limited(&self, status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            // GitHub answers an exhausted primary limit with 403 and no remaining requests.
            || (status == StatusCode::FORBIDDEN
                && (number("x-ratelimit-remaining") == Some(0.0) || headers.contains_key("retry-after")));
        if !limited {
            return None;
        }
        let seconds = number("retry-after").or_else(|| match self.reset {
            Reset::SecondsIn(h) => number(h),
            Reset::EpochIn(h) => number(h).map(|at| at - now_epoch()),
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

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// 0.5 s, 1 s, 2 s … capped at 30 s, each with up to 25% jitter so that retries spread out.
fn backoff(tries: u32) -> Duration {
    let base = 0.5 * 2f64.powi(tries.saturating_sub(1).min(6) as i32);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = f64::from(nanos % 1000) / 1000.0 * 0.25;
    Duration::from_secs_f64(base.min(30.0) * (1.0 + jitter))
}
