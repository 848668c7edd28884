//! A fake vendor API on 127.0.0.1: scripted answers by method, path, query and headers, with
//! delays and answer counts. Small on purpose: a mocking crate's dev-dependencies changed the
//! features of the build scripts' dependencies, which made cargo compile DuckDB a second time
//! for the tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Clone)]
pub struct Route {
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    times: Option<usize>,
    priority: u8,
    status: u16,
    body: Vec<u8>,
    response_headers: Vec<(String, String)>,
    delay: Duration,
}

impl Route {
    pub fn get(path: impl Into<String>) -> Route {
        Route {
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            times: None,
            priority: 5,
            status: 200,
            body: b"{}".to_vec(),
            response_headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// Matches only requests with this query parameter (decoded).
    pub fn query(mut self, k: &str, v: &str) -> Route {
        self.query.push((k.into(), v.into()));
        self
    }

    /// Matches only requests with this header value.
    pub fn header(mut self, k: &str, v: &str) -> Route {
        self.headers.push((k.to_ascii_lowercase(), v.into()));
        self
    }

    /// Answers at most `n` requests.
    pub fn times(mut self, n: usize) -> Route {
        self.times = Some(n);
        self
    }

    /// Lower numbers are tried first (default 5); ties go in the order routes were added.
    pub fn priority(mut self, p: u8) -> Route {
        self.priority = p;
        self
    }

    pub fn json(mut self, status: u16, body: Value) -> Route {
        self.status = status;
        self.body = serde_json::to_vec(&body).unwrap();
        self
    }

    pub fn text(mut self, status: u16, body: &str) -> Route {
        self.status = status;
        self.body = body.as_bytes().to_vec();
        self
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Route {
        self.response_headers.push((k.into(), v.into()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Route {
        self.delay = d;
        self
    }

    fn matches(
        &self,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
    ) -> bool {
        self.path == path
            && self.times != Some(0)
            && self.query.iter().all(|q| query.contains(q))
            && self.headers.iter().all(|h| headers.contains(h))
    }
}

pub struct FakeServer {
    pub uri: String,
    routes: Arc<Mutex<Vec<Route>>>,
    /// Every request's path and query, in the order they came.
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<Vec<Route>>> = Arc::default();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (shared, log) = (routes.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone(), log.clone()));
            }
        });
        FakeServer { uri, routes, seen }
    }

    /// The requests answered so far: path and query.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    pub fn add(&self, route: Route) {
        let mut routes = self.routes.lock().unwrap();
        routes.push(route);
        // A stable sort keeps the order routes were added among equal priorities.
        routes.sort_by_key(|r| r.priority);
    }
}

async fn serve(
    mut socket: tokio::net::TcpStream,
    routes: Arc<Mutex<Vec<Route>>>,
    seen: Arc<Mutex<Vec<String>>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let target = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    seen.lock().unwrap().push(target.clone());
    let url = Url::parse(&format!("http://fake{target}")).unwrap();
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let route = {
        let mut routes = routes.lock().unwrap();
        match routes
            .iter_mut()
            .find(|r| r.matches(url.path(), &query, &headers))
        {
            Some(r) => {
                if let Some(t) = &mut r.times {
                    *t -= 1;
                }
                r.clone()
            }
            None => Route::get(url.path()).text(404, "no route"),
        }
    };
    tokio::time::sleep(route.delay).await;
    let mut response = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        route.status,
        route.body.len()
    );
    for (k, v) in &route.response_headers {
        response.push_str(&format!("{k}: {v}\r\n"));
    }
    response.push_str("\r\n");
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.write_all(&route.body).await;
    let _ = socket.shutdown().await;
}
