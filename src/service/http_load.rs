//! The HTTP load generator: keep-alive connections on hyper, a closed loop of virtual users or
//! an open loop at a rate (latency from each request's due time), every response's latency in
//! an HDR histogram, the app's `Server-Timing` figures beside it, and failures by reason.
//!
//! One slice ([`run_slice`]) runs one worker task per connection. A worker owns one HTTP/1.1
//! keep-alive connection, opened before its first request and reopened only after a failure (a
//! reset, a timeout) or when the app closed it. In a closed loop each worker is a virtual user
//! that sends its next request as soon as the last one was answered; in an open loop request `n`
//! is due at `start + n / rate`, the first free worker takes the next request due (so a request
//! that finds every connection busy waits for one) and its latency counts from when it was due,
//! as wrk2 does. Tokio's timers wake within about a millisecond, so an open loop's latency
//! includes up to that much of the timer's own lateness, as wrk2's event loop does.
//!
//! The end of a slice: no request starts after `duration` (an open loop's requests that were
//! due but never sent are dropped, not counted: [`SliceMeasure::late`] and the latency of those
//! sent show the backlog). Requests in flight at the end are waited for (each at most `timeout`)
//! and counted, so a slice ends within `duration + timeout` and its requests/s counts every
//! answer over the wall time up to the last of them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{HOST, HeaderValue};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

use super::http_server_timing::server_timing_entries;
use crate::engine::stats::{HIGHEST_NS, LOWEST_NS, duration_to_ns, new_histogram};

/// An open loop's request sent more than this after it was due counts as late.
pub const LATE: Duration = Duration::from_millis(1);
/// How long a worker waits after a failed connect before it tries again, so a dead app does not
/// spin a core.
pub const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// Distinct first lines of failed answers' bodies kept for the report.
pub const MAX_ERROR_SAMPLES: usize = 3;
/// How much of a failed answer's body is searched for its first line (the rest is read and
/// dropped), and the most of that line kept.
const SAMPLE_BODY_BYTES: usize = 4096;
const SAMPLE_LINE_CHARS: usize = 200;

/// Failure reasons, as the report groups them (besides `HTTP <status>`).
pub const CONNECTION_REFUSED: &str = "connection refused";
/// A connect that failed other than by refusal (no route, no free local port, ...).
pub const CONNECT_FAILED: &str = "connect failed";
/// The peer closed or reset the connection before the answer was complete.
pub const CONNECTION_RESET: &str = "connection reset";
/// The peer answered something that is not HTTP/1.
pub const INVALID_RESPONSE: &str = "invalid response";
/// No answer (or no connection) within the slice's timeout.
pub const TIMEOUT: &str = "timeout";
/// The path the slice built for a request is not a valid request target.
pub const INVALID_PATH: &str = "invalid request path";

/// How requests are offered to the app.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// `vus` keep-alive connections, each sending its next request as soon as the last answered.
    Closed { vus: u32 },
    /// Requests due at a fixed `rate` per second (request n due at start + n/rate), sent over up to
    /// `connections` keep-alive connections; a request that finds every connection busy waits, and
    /// its latency counts from when it was due (coordinated-omission correction, as wrk2 does).
    /// A rate that is not a positive finite number sends nothing: the caller validates it.
    Open { rate: f64, connections: u32 },
}

/// One measured slice of load against one app.
#[derive(Clone)]
pub struct Slice {
    pub addr: SocketAddr,
    pub shape: Shape,
    pub duration: Duration,
    /// A request that has no answer after this long fails as "timeout" (its connection is dropped and reopened).
    pub timeout: Duration,
    /// The path and query of request number n (0, 1, 2 … across all connections), e.g. "/batch-count?i=7".
    pub path: Arc<dyn Fn(u64) -> String + Send + Sync>,
}

impl fmt::Debug for Slice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slice")
            .field("addr", &self.addr)
            .field("shape", &self.shape)
            .field("duration", &self.duration)
            .field("timeout", &self.timeout)
            .field("path(0)", &(self.path)(0))
            .finish()
    }
}

/// What one slice measured.
#[derive(Debug, Clone)]
pub struct SliceMeasure {
    /// 2xx answers.
    pub ok: u64,
    /// Failed requests by reason: `HTTP <status>` or one of the reasons above.
    pub errors: BTreeMap<String, u64>,
    /// Wall time from the first request sent (an open loop's: from when it was due) to the last
    /// answer or failure in the slice.
    pub elapsed: Duration,
    /// ns, end to end (open loop: from due time), successful requests only.
    pub latency: Histogram<u64>,
    /// ns, Server-Timing `app;dur=` (ms, float) of each 2xx answer that had it.
    pub handler: Histogram<u64>,
    /// ns, Server-Timing `db;dur=`.
    pub client: Histogram<u64>,
    /// ns, Server-Timing `loop;dur=`.
    pub loop_lag: Histogram<u64>,
    /// Up to [`MAX_ERROR_SAMPLES`] distinct first lines of non-2xx bodies, for the report.
    pub error_samples: Vec<String>,
    /// Open loop: requests sent more than [`LATE`] after due.
    pub late: u64,
}

impl SliceMeasure {
    fn new() -> SliceMeasure {
        SliceMeasure {
            ok: 0,
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
            latency: new_histogram(),
            handler: new_histogram(),
            client: new_histogram(),
            loop_lag: new_histogram(),
            error_samples: Vec::new(),
            late: 0,
        }
    }

    /// Requests that ended in the slice, answered or failed.
    pub fn requests(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }
}

/// Runs one measured slice on the current tokio runtime (current-thread or multi-thread). Never
/// hangs: every wait is bounded by `timeout`, and the slice ends at `duration`; requests still in
/// flight then are waited for (each at most `timeout`) and counted.
pub async fn run_slice(slice: &Slice) -> SliceMeasure {
    let start = Instant::now();
    let (workers, rate) = match slice.shape {
        Shape::Closed { vus } => (vus, None),
        Shape::Open { rate, connections } => (connections, Some(rate)),
    };
    let shared = Arc::new(Shared {
        addr: slice.addr,
        host: HeaderValue::from_str(&slice.addr.to_string()).expect("a socket address is a valid Host header"),
        timeout: slice.timeout,
        path: Arc::clone(&slice.path),
        start,
        end: start + slice.duration,
        rate,
        next: AtomicU64::new(0),
        tally: Mutex::new(Tally::empty()),
    });
    let mut set = JoinSet::new();
    for _ in 0..workers {
        set.spawn(worker(Arc::clone(&shared)));
    }
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    let tally = std::mem::replace(&mut *shared.tally.lock().unwrap_or_else(|e| e.into_inner()), Tally::empty());
    let mut measure = tally.measure;
    if let (Some(first), Some(last)) = (tally.first, tally.last) {
        measure.elapsed = last.saturating_duration_since(first);
    }
    measure
}

/// What every worker of a slice shares.
struct Shared {
    addr: SocketAddr,
    host: HeaderValue,
    timeout: Duration,
    path: Arc<dyn Fn(u64) -> String + Send + Sync>,
    start: Instant,
    end: Instant,
    /// Open loop: requests per second.
    rate: Option<f64>,
    /// The next request's number.
    next: AtomicU64,
    tally: Mutex<Tally>,
}

impl Shared {
    /// When open-loop request `n` is due; `None` when it falls outside the slice.
    fn due(&self, rate: f64, n: u64) -> Option<Instant> {
        let offset = Duration::try_from_secs_f64(n as f64 / rate).ok()?;
        let due = self.start.checked_add(offset)?;
        (due < self.end).then_some(due)
    }

    /// The next request's number and, in an open loop, when it is due (waited for); `None` once
    /// the slice has ended. An open loop's backlog still due when the slice ends is not sent.
    async fn next_request(&self) -> Option<(u64, Option<Instant>)> {
        if Instant::now() >= self.end {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(rate) = self.rate else { return Some((n, None)) };
        let due = self.due(rate, n)?;
        tokio::time::sleep_until(due.into()).await;
        Some((n, Some(due)))
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The slice's figures as they are gathered, with the span they cover.
struct Tally {
    measure: SliceMeasure,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Tally {
    fn empty() -> Tally {
        Tally { measure: SliceMeasure::new(), first: None, last: None }
    }

    /// Records one request that counted from `from` and ended now.
    fn record(&mut self, from: Instant, outcome: &Outcome) {
        let now = Instant::now();
        self.first = Some(self.first.map_or(from, |first| first.min(from)));
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
        let m = &mut self.measure;
        match outcome {
            Outcome::Ok { timing } => {
                m.ok += 1;
                m.latency.saturating_record(duration_to_ns(now.saturating_duration_since(from)).0);
                for (histogram, ns) in
                    [(&mut m.handler, timing.app), (&mut m.client, timing.db), (&mut m.loop_lag, timing.lag)]
                {
                    if let Some(ns) = ns {
                        histogram.saturating_record(ns.clamp(LOWEST_NS, HIGHEST_NS));
                    }
                }
            }
            Outcome::Status { status, first_line } => {
                count(&mut m.errors, &format!("HTTP {}", status.as_u16()));
                if !first_line.is_empty()
                    && m.error_samples.len() < MAX_ERROR_SAMPLES
                    && !m.error_samples.contains(first_line)
                {
                    m.error_samples.push(first_line.clone());
                }
            }
            Outcome::Failed(reason) => count(&mut m.errors, reason),
        }
    }
}

fn count(errors: &mut BTreeMap<String, u64>, reason: &str) {
    match errors.get_mut(reason) {
        Some(n) => *n += 1,
        None => {
            errors.insert(reason.to_string(), 1);
        }
    }
}

/// How one request ended.
enum Outcome {
    Ok {
        timing: Timing,
    },
    /// A complete answer with a status other than 2xx, and its body's first line.
    Status {
        status: http::StatusCode,
        first_line: String,
    },
    Failed(&'static str),
}

/// The app's own figures from a `Server-Timing` header, in ns.
#[derive(Default)]
struct Timing {
    app: Option<u64>,
    db: Option<u64>,
    lag: Option<u64>,
}

impl Timing {
    fn of(response: &Response<Incoming>) -> Timing {
        let mut timing = Timing::default();
        for value in response.headers().get_all("server-timing") {
            let Ok(value) = value.to_str() else { continue };
            for (name, ns) in server_timing_entries(value) {
                let slot = match name {
                    "app" => &mut timing.app,
                    "db" => &mut timing.db,
                    "loop" => &mut timing.lag,
                    _ => continue,
                };
                slot.get_or_insert(ns);
            }
        }
        timing
    }
}

/// One keep-alive connection: the handle requests are sent on, and the task that drives its I/O
/// (stopped when the connection is dropped).
struct Connection {
    sender: SendRequest<Empty<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Opens a connection to the app, within `timeout`.
async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Connection, &'static str> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => return Err(TIMEOUT),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Err(CONNECTION_REFUSED),
        Ok(Err(_)) => return Err(CONNECT_FAILED),
        Ok(Ok(stream)) => stream,
    };
    // Requests are small and answered one at a time: Nagle would only delay them.
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|_| CONNECT_FAILED)?;
    let driver = tokio::spawn(async move {
        // Its failures reach the request that was in flight; nothing else to tell.
        let _ = connection.await;
    });
    Ok(Connection { sender, driver })
}

/// One connection's loop: takes requests until the slice ends, sends them, records each.
async fn worker(shared: Arc<Shared>) {
    let mut connection: Option<Connection> = None;
    loop {
        let Some((n, due)) = shared.next_request().await else { break };
        let attempt = Instant::now();
        if connection.as_ref().is_some_and(|c| c.sender.is_closed()) {
            connection = None; // the app closed it between requests: not a failure
        }
        let open = match connection.take() {
            Some(open) => Ok(open),
            None => connect(shared.addr, shared.timeout).await,
        };
        let mut open = match open {
            Ok(open) => open,
            Err(reason) => {
                let from = due.unwrap_or(attempt);
                shared.tally().record(from, &Outcome::Failed(reason));
                if reason != TIMEOUT {
                    tokio::time::sleep(CONNECT_BACKOFF).await;
                }
                continue;
            }
        };
        let request = Request::get((shared.path)(n)).header(HOST, shared.host.clone()).body(Empty::new());
        let Ok(request) = request else {
            shared.tally().record(attempt, &Outcome::Failed(INVALID_PATH));
            tokio::time::sleep(CONNECT_BACKOFF).await;
            connection = Some(open);
            continue;
        };
        let sent = Instant::now();
        let outcome = match tokio::time::timeout(shared.timeout, exchange(&mut open.sender, request)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Failed(TIMEOUT),
        };
        if !matches!(outcome, Outcome::Failed(_)) {
            connection = Some(open); // kept alive; a failed one is dropped and reopened
        }
        let mut tally = shared.tally();
        if let Some(due) = due {
            tally.measure.late += u64::from(sent.saturating_duration_since(due) > LATE);
        }
        tally.record(due.unwrap_or(sent), &outcome);
    }
}

/// Sends one request and reads its whole answer.
async fn exchange(sender: &mut SendRequest<Empty<Bytes>>, request: Request<Empty<Bytes>>) -> Outcome {
    if sender.ready().await.is_err() {
        return Outcome::Failed(CONNECTION_RESET);
    }
    let response = match sender.send_request(request).await {
        Ok(response) => response,
        Err(e) => return Outcome::Failed(failure_of(&e)),
    };
    let status = response.status();
    if status.is_success() {
        let timing = Timing::of(&response);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if let Err(e) = frame {
                return Outcome::Failed(failure_of(&e));
            }
        }
        Outcome::Ok { timing }
    } else {
        let mut body = response.into_body();
        let mut head = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        let room = SAMPLE_BODY_BYTES.saturating_sub(head.len());
                        head.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                Err(e) => return Outcome::Failed(failure_of(&e)),
            }
        }
        Outcome::Status { status, first_line: first_line(&head) }
    }
}

/// The first non-blank line of a body, trimmed and shortened for the report.
fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or("");
    line.chars().take(SAMPLE_LINE_CHARS).collect()
}

/// The reason for a request that hyper failed.
fn failure_of(e: &hyper::Error) -> &'static str {
    if e.is_parse() || e.is_parse_status() { INVALID_RESPONSE } else { CONNECTION_RESET }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::convert::Infallible;

    use http_body_util::Full;
    use hyper::service::service_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const MS: u64 = 1_000_000;

    /// What the test app does with each request.
    #[derive(Clone, Copy)]
    enum Behaviour {
        /// Sleeps a tenth of this, then this long, then answers 200 with `Server-Timing:
        /// app;dur=<its time>, db;desc=…;dur=<the second sleep>` and `loop;dur=0.05`.
        Sleep(Duration),
        /// Answers 500 with a body whose first line names the request's `i` modulo 5.
        Fail,
        /// Answers 200 with `Connection: close`: one request per connection.
        CloseAfter,
    }

    /// What the test app saw: connections accepted, request numbers (`i=`) received.
    #[derive(Default)]
    struct Seen {
        connections: AtomicU64,
        requests: Mutex<Vec<u64>>,
    }

    /// A small hyper app on 127.0.0.1:0 that counts what it sees.
    async fn app(behaviour: Behaviour) -> (SocketAddr, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let counted = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counted.connections.fetch_add(1, Ordering::Relaxed);
                let seen = Arc::clone(&counted);
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let began = Instant::now();
                        let i: u64 = request.uri().query().and_then(|q| q.strip_prefix("i=")).unwrap().parse().unwrap();
                        seen.requests.lock().unwrap().push(i);
                        let response = match behaviour {
                            Behaviour::Sleep(pause) => {
                                // The handler's own share (a tenth), then its "database call".
                                tokio::time::sleep(pause / 10).await;
                                let slept = Instant::now();
                                tokio::time::sleep(pause).await;
                                let db = slept.elapsed().as_secs_f64() * 1e3;
                                let app = began.elapsed().as_secs_f64() * 1e3;
                                Response::builder()
                                    .header(
                                        "server-timing",
                                        format!("app;dur={app:.3}, db;desc=\"batch, 7\";dur={db:.3}"),
                                    )
                                    .header("server-timing", "loop;dur=0.05")
                                    .body(Full::new(Bytes::from(vec![b'x'; 10_000])))
                            }
                            Behaviour::CloseAfter => Response::builder()
                                .header("connection", "close")
                                .body(Full::new(Bytes::from_static(b"{}"))),
                            Behaviour::Fail => Response::builder()
                                .status(500)
                                .header("server-timing", "app;dur=1")
                                .body(Full::new(Bytes::from(format!("\nboom {}\nTraceback ...\n", i % 5)))),
                        };
                        Ok::<_, Infallible>(response.unwrap())
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (addr, seen)
    }

    /// What a listener that does not speak HTTP does with each connection, once it has read the
    /// request.
    #[derive(Clone, Copy, PartialEq)]
    enum Raw {
        Close,
        Hold,
        Garbage,
    }

    async fn raw(reply: Raw) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer).await;
                match reply {
                    Raw::Close => {}
                    Raw::Hold => held.push(stream),
                    Raw::Garbage => {
                        let _ = stream.write_all(b"\x00\x17garbage, not HTTP\r\n\r\n").await;
                        held.push(stream);
                    }
                }
            }
        });
        addr
    }

    fn slice(addr: SocketAddr, shape: Shape, duration_ms: u64, timeout_ms: u64) -> Slice {
        Slice {
            addr,
            shape,
            duration: Duration::from_millis(duration_ms),
            timeout: Duration::from_millis(timeout_ms),
            path: Arc::new(|n| format!("/batch-count?i={n}")),
        }
    }

    /// Every request the app saw was numbered once, from 0 up.
    fn assert_numbered_once(seen: &Seen) {
        let numbers = seen.requests.lock().unwrap().clone();
        let distinct: BTreeSet<u64> = numbers.iter().copied().collect();
        assert_eq!(distinct.len(), numbers.len(), "a request number was sent twice: {numbers:?}");
        assert_eq!(distinct, (0..numbers.len() as u64).collect(), "request numbers have gaps");
    }

    /// A closed loop against an app that takes 20 ms: Little's law, latency ≥ handler ≥ client
    /// at every quantile, one connection per VU, every request the app saw counted.
    async fn closed_loop_obeys_littles_law() {
        let pause = Duration::from_millis(20);
        let (addr, seen) = app(Behaviour::Sleep(pause)).await;
        let vus = 4;
        let m = run_slice(&slice(addr, Shape::Closed { vus }, 600, 2_000)).await;
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert!(m.ok >= u64::from(vus), "every VU was answered at least once: {}", m.ok);
        assert_eq!(seen.connections.load(Ordering::Relaxed), u64::from(vus), "one keep-alive connection per VU");
        assert_eq!(seen.requests.lock().unwrap().len() as u64, m.ok, "every request the app answered was counted");
        assert_numbered_once(&seen);

        let throughput = m.ok as f64 / m.elapsed.as_secs_f64();
        let littles = f64::from(vus) / (m.latency.mean() / 1e9);
        let ratio = throughput / littles;
        assert!((0.5..2.0).contains(&ratio), "requests/s {throughput:.1} vs VUs / mean latency {littles:.1}");

        assert_eq!(m.latency.len(), m.ok);
        assert_eq!(m.handler.len(), m.ok, "every answer's app;dur was recorded");
        assert_eq!(m.client.len(), m.ok, "db;dur after a quoted desc with a comma was recorded");
        assert_eq!(m.loop_lag.len(), m.ok, "a second Server-Timing header was read");
        assert!(m.client.min() >= 20 * MS * 999 / 1000, "db;dur is the 20 ms sleep, in ns: {}", m.client.min());
        assert!((40_000..60_000).contains(&m.loop_lag.max()), "loop;dur=0.05 ms is 50 µs: {}", m.loop_lag.max());
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            let (latency, handler, client) =
                (m.latency.value_at_quantile(q), m.handler.value_at_quantile(q), m.client.value_at_quantile(q));
            // Histogram buckets are within 0.1%: allow that much.
            assert!(latency * 1001 / 1000 >= handler, "q{q}: latency {latency} < handler {handler}");
            assert!(handler * 1001 / 1000 >= client, "q{q}: handler {handler} < client {client}");
        }
        assert_eq!(m.late, 0, "a closed loop has no due times");
    }

    #[tokio::test]
    async fn closed_loop_on_a_current_thread_runtime() {
        closed_loop_obeys_littles_law().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_loop_on_a_multi_thread_runtime() {
        closed_loop_obeys_littles_law().await;
    }

    #[tokio::test]
    async fn a_request_in_flight_at_the_end_is_waited_for_and_counted() {
        // Each VU's last request is sent shortly before the end and answered 150 ms later.
        let (addr, seen) = app(Behaviour::Sleep(Duration::from_millis(150))).await;
        let m = run_slice(&slice(addr, Shape::Closed { vus: 3 }, 200, 2_000)).await;
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert_eq!(seen.requests.lock().unwrap().len() as u64, m.ok, "every request sent was answered and counted");
        assert!(m.elapsed >= Duration::from_millis(300), "elapsed runs to the last answer: {:?}", m.elapsed);
    }

    #[tokio::test]
    async fn open_loop_never_exceeds_its_rate() {
        let (addr, seen) = app(Behaviour::Sleep(Duration::ZERO)).await;
        let (rate, duration_ms) = (200.0, 500);
        let m = run_slice(&slice(addr, Shape::Open { rate, connections: 4 }, duration_ms, 2_000)).await;
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        let most = rate * duration_ms as f64 / 1e3 + 1.0;
        assert!(m.requests() as f64 <= most, "{} requests at {rate}/s in {duration_ms} ms", m.requests());
        assert!(m.ok as f64 >= most / 2.0, "a fast app answers most of what was due: {}", m.ok);
        assert!(seen.connections.load(Ordering::Relaxed) <= 4, "at most `connections` connections");
        assert_numbered_once(&seen);
    }

    #[tokio::test]
    async fn open_loop_counts_latency_from_when_a_request_was_due() {
        // Two connections to an app that takes 50 ms serve at most 40 requests/s; 200/s are due,
        // so requests wait for a connection and their latency grows with the backlog.
        let pause = Duration::from_millis(50);
        let (addr, _) = app(Behaviour::Sleep(pause)).await;
        let m = run_slice(&slice(addr, Shape::Open { rate: 200.0, connections: 2 }, 500, 2_000)).await;
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert!(m.late > 0, "requests were sent after they were due");
        assert!(m.late <= m.ok);
        let service_max = m.handler.max();
        assert!(
            m.latency.max() > 2 * service_max,
            "latency from due ({} ns) includes the wait for a connection, beyond the app's {} ns",
            m.latency.max(),
            service_max
        );
    }

    #[tokio::test]
    async fn a_failing_handler_counts_by_status_with_its_first_lines() {
        let (addr, _) = app(Behaviour::Fail).await;
        let m = run_slice(&slice(addr, Shape::Closed { vus: 2 }, 300, 2_000)).await;
        assert_eq!(m.ok, 0);
        assert_eq!(m.errors.keys().collect::<Vec<_>>(), ["HTTP 500"]);
        assert!(m.errors["HTTP 500"] >= 5, "errors do not stop the slice: {:?}", m.errors);
        assert_eq!(m.error_samples.len(), MAX_ERROR_SAMPLES, "{:?}", m.error_samples);
        for sample in &m.error_samples {
            assert!(["boom 0", "boom 1", "boom 2", "boom 3", "boom 4"].contains(&sample.as_str()), "{sample:?}");
        }
        assert!(m.latency.is_empty() && m.handler.is_empty(), "failed answers are not in the latency");
    }

    #[tokio::test]
    async fn an_app_that_closes_without_answering_is_a_reset() {
        let addr = raw(Raw::Close).await;
        let m = run_slice(&slice(addr, Shape::Closed { vus: 2 }, 300, 2_000)).await;
        assert_eq!(m.ok, 0);
        assert_eq!(m.errors.keys().collect::<Vec<_>>(), [CONNECTION_RESET]);
        assert!(m.errors[CONNECTION_RESET] > 2, "a reset VU reconnects and goes on: {:?}", m.errors);
    }

    #[tokio::test]
    async fn an_app_that_never_answers_times_out_and_the_slice_still_ends() {
        let addr = raw(Raw::Hold).await;
        let (duration_ms, timeout_ms) = (300, 200);
        let began = Instant::now();
        let m = run_slice(&slice(addr, Shape::Closed { vus: 2 }, duration_ms, timeout_ms)).await;
        let took = began.elapsed();
        assert_eq!(m.ok, 0);
        assert_eq!(m.errors.keys().collect::<Vec<_>>(), [TIMEOUT]);
        assert!(m.errors[TIMEOUT] >= 2, "{:?}", m.errors);
        let bound = Duration::from_millis(duration_ms + timeout_ms) + Duration::from_secs(2);
        assert!(took < bound, "the slice took {took:?}");
    }

    #[tokio::test]
    async fn an_app_that_answers_garbage_is_an_invalid_response() {
        let addr = raw(Raw::Garbage).await;
        let m = run_slice(&slice(addr, Shape::Closed { vus: 2 }, 300, 2_000)).await;
        assert_eq!(m.ok, 0);
        assert_eq!(m.errors.keys().collect::<Vec<_>>(), [INVALID_RESPONSE]);
        assert!(m.errors[INVALID_RESPONSE] > 2, "the VU reconnects and goes on: {:?}", m.errors);
    }

    #[tokio::test]
    async fn an_app_that_closes_after_answering_is_reconnected_without_a_failure() {
        let (addr, seen) = app(Behaviour::CloseAfter).await;
        let m = run_slice(&slice(addr, Shape::Closed { vus: 2 }, 300, 2_000)).await;
        assert!(m.errors.is_empty(), "a connection closed between requests is no failure: {:?}", m.errors);
        assert!(m.ok > 2);
        assert_eq!(seen.connections.load(Ordering::Relaxed), m.ok, "one connection per request");
    }

    #[tokio::test]
    async fn nothing_listening_is_refused_with_a_back_off() {
        let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let vus = 2;
        let duration_ms = 300;
        let m = run_slice(&slice(addr, Shape::Closed { vus }, duration_ms, 2_000)).await;
        assert_eq!(m.ok, 0);
        assert_eq!(m.errors.keys().collect::<Vec<_>>(), [CONNECTION_REFUSED]);
        // A VU waits CONNECT_BACKOFF after each refusal: at most one try per back-off and VU.
        let most = u64::from(vus) * (duration_ms / CONNECT_BACKOFF.as_millis() as u64 + 1);
        assert!(m.errors[CONNECTION_REFUSED] <= most, "{:?} tries, at most {most}", m.errors);
    }

    #[test]
    fn first_line_skips_blank_lines_and_shortens() {
        assert_eq!(first_line(b"\n  \r\nValueError: bad\nTraceback"), "ValueError: bad");
        assert_eq!(first_line(b""), "");
        assert_eq!(first_line(&[b'a'; 1000]).len(), SAMPLE_LINE_CHARS);
    }
}
