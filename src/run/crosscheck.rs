//! Two hidden subcommands that let an independent HTTP load generator be set beside aerobench's
//! own on the same app: `serve-app` serves a service run's app floor on its own (as a service run
//! starts it) until its stdin closes, and `http-load` runs one closed-loop slice of aerobench's
//! generator against a URL and prints its figures and its own CPU time as one JSON line
//! (`cargo bench --bench http_crosscheck` compares them with wrk's).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::drivers::asgi_app::RunningApp;
use crate::drivers::start::Target;
use crate::engine::{cpu, progress, signals, stop};
use crate::run::cli::{BenchArgs, HttpLoadArgs};
use crate::run::plan::Plan;

use super::service_plan::{DEFAULT_CLIENTS, ServicePlan};
use super::service_steps as run;
use crate::service::http_load::{self, Shape, Slice, SliceMeasure};

/// Exit code when the app or the load failed.
const EXIT_FAILED: i32 = 1;
/// Exit code for bad usage (nothing listens at the URL, a URL that is not http://).
const EXIT_USAGE: i32 = 2;

/// `aerobench serve-app --service SCENARIO …`: starts the app floor of the service run these
/// options describe (uvicorn, `--app-workers`, the records of `--count`/`--batch-size`
/// precomputed), prints `listening on ADDR` and serves until stdin closes, Ctrl-C or SIGTERM;
/// the app is always stopped. Exit 1 when the app stops serving on its own.
pub fn serve_app(mut args: BenchArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(
        args.service.is_some(),
        "serve-app serves the app floor of a service run: give --service SCENARIO (e.g. --service batch-count)"
    );
    // The floor is the same whichever clients are named; the defaults only give it its interpreter.
    if args.clients.is_none() {
        args.clients = Some(DEFAULT_CLIENTS.iter().map(|c| c.to_string()).collect());
    }
    let plan = Plan::from_args(&args)?;
    let svc = ServicePlan::from_args(&args, &plan)?;
    let floor = svc
        .apps
        .iter()
        .find(|a| a.is_floor())
        .ok_or_else(|| anyhow::anyhow!("the service run has no app floor to serve"))?;
    let show = progress::enabled(args.quiet);
    signals::install();
    // The floor reads no database: the address only fills the adapter's spec.
    let target = Target { host: args.host.clone(), port: args.port, credentials: None, tls: None };
    let (config, _) = run::config(&plan, &svc, &target, floor, show)?;
    let spin = progress::spinner(show, format!("starting the app of {}", floor.label));
    let started = RunningApp::start(config, show);
    spin.finish_and_clear();
    let app = started?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", app.addr())?;
        out.flush()?;
    }
    let stdin_closed = Arc::new(AtomicBool::new(false));
    {
        let closed = stdin_closed.clone();
        // Reads stdin to its end: its writer going away is the signal to stop.
        std::thread::spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            closed.store(true, Ordering::SeqCst);
        });
    }
    let code = loop {
        if stdin_closed.load(Ordering::SeqCst) || stop::interrupted() {
            break 0;
        }
        if let Some(why) = app.gone() {
            eprintln!("Error: the app stopped serving: {why}\n{}", app.stderr_tail(20));
            break EXIT_FAILED;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    app.stop();
    Ok(code)
}

/// `aerobench http-load URL --vus N --duration D`: one closed-loop slice on the service run's
/// load runtime; prints one JSON line. Exit 1 when a request failed, 2 when nothing listens.
pub fn http_load(args: HttpLoadArgs) -> anyhow::Result<i32> {
    let (addr, path) = parse_url(&args.url)?;
    if let Err(e) = std::net::TcpStream::connect_timeout(&addr, args.timeout.min(Duration::from_secs(3))) {
        eprintln!(
            "Error: nothing answers at {addr} ({e}): start the app first (e.g. `aerobench serve-app --service \
             batch-count`) and give the address it prints"
        );
        return Ok(EXIT_USAGE);
    }
    let slice = Slice {
        addr,
        shape: Shape::Closed { vus: args.vus },
        duration: args.duration,
        timeout: args.timeout,
        path: Arc::new(move |_| path.clone()),
    };
    let runtime = run::load_runtime()?;
    let before = cpu::process_usage();
    let measure = runtime.block_on(http_load::run_slice(&slice));
    let after = cpu::process_usage();
    let cpu = before.zip(after).map(|(b, a)| a.cpu.saturating_sub(b.cpu));
    let doc = figures(&args, &measure, cpu);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{doc}")?;
    out.flush()?;
    Ok(if measure.ok == 0 || measure.requests() > measure.ok { EXIT_FAILED } else { 0 })
}

/// The address and the path (with its query) of an `http://` URL; errors say what to give.
fn parse_url(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let usage = "give the app's URL as http://HOST:PORT/PATH, e.g. http://127.0.0.1:8000/batch-count?i=0";
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        if url.starts_with("https://") {
            anyhow::anyhow!("{url:?}: http-load speaks plain HTTP/1.1, not TLS; {usage}")
        } else {
            anyhow::anyhow!("{url:?} is not an http:// URL; {usage}")
        }
    })?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    anyhow::ensure!(!authority.is_empty(), "{url:?} names no host; {usage}");
    let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("{url:?}: cannot resolve {authority:?} ({e}); {usage}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{url:?}: {authority:?} resolves to no address; {usage}"))?;
    Ok((addr, path))
}

/// The slice's figures as `http-load` prints them: requests/s is 2xx answers over the slice's
/// elapsed time, as a service run's report counts it; latencies of 2xx answers in µs; `cpu_us`
/// is this process's CPU time (user + system) over the slice, `null` where the platform does not
/// tell.
fn figures(args: &HttpLoadArgs, m: &SliceMeasure, cpu: Option<Duration>) -> serde_json::Value {
    let elapsed = m.elapsed.as_secs_f64();
    let requests = m.requests();
    let us = |q: f64| (!m.latency.is_empty()).then(|| m.latency.value_at_quantile(q) as f64 / 1_000.0);
    let cpu_us = cpu.map(|c| c.as_secs_f64() * 1e6);
    serde_json::json!({
        "url": args.url,
        "vus": args.vus,
        "duration_s": args.duration.as_secs_f64(),
        "elapsed_s": elapsed,
        "requests": requests,
        "ok": m.ok,
        "errors": requests - m.ok,
        "errors_by_reason": m.errors,
        "requests_per_s": if elapsed > 0.0 { m.ok as f64 / elapsed } else { 0.0 },
        "p50_us": us(0.5),
        "p99_us": us(0.99),
        "cpu_us": cpu_us,
        "cpu_us_per_request": cpu_us.filter(|_| requests > 0).map(|c| c / requests as f64),
        "load_generator": run::LOAD_GENERATOR,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_address_and_path_with_query() {
        let (addr, path) = parse_url("http://127.0.0.1:8123/batch-count?i=3").unwrap();
        assert_eq!(addr, "127.0.0.1:8123".parse().unwrap());
        assert_eq!(path, "/batch-count?i=3");
        let (addr, path) = parse_url("http://127.0.0.1:9000").unwrap();
        assert_eq!((addr.port(), path.as_str()), (9000, "/"));
        let (addr, path) = parse_url("http://[::1]:9001?i=1").unwrap();
        assert_eq!((addr, path.as_str()), ("[::1]:9001".parse().unwrap(), "/?i=1"));
        assert_eq!(parse_url("http://127.0.0.1/x").unwrap().0.port(), 80);
    }

    #[test]
    fn a_url_that_is_not_plain_http_is_refused_with_what_to_give() {
        for bad in ["https://127.0.0.1:8000/", "127.0.0.1:8000/", "ftp://x/", "http:///path"] {
            let e = parse_url(bad).unwrap_err().to_string();
            assert!(e.contains("http://HOST:PORT/PATH"), "{bad}: {e}");
        }
        assert!(parse_url("https://127.0.0.1/").unwrap_err().to_string().contains("not TLS"));
    }

    #[test]
    fn figures_count_2xx_per_second_and_charge_cpu_to_every_request() {
        let args = HttpLoadArgs {
            url: "http://127.0.0.1:1/".into(),
            vus: 4,
            duration: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
        };
        let empty = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let mut latency = empty.clone();
        for ns in [1_000_000u64, 2_000_000, 3_000_000, 100_000_000] {
            latency.record(ns).unwrap();
        }
        let m = SliceMeasure {
            ok: 4,
            errors: [("HTTP 500".to_string(), 1u64)].into_iter().collect(),
            elapsed: Duration::from_secs(2),
            latency,
            handler: empty.clone(),
            client: empty.clone(),
            loop_lag: empty,
            error_samples: Vec::new(),
            late: 0,
        };
        let doc = figures(&args, &m, Some(Duration::from_millis(10)));
        assert_eq!(doc["requests"], 5);
        assert_eq!(doc["errors"], 1);
        assert_eq!(doc["errors_by_reason"]["HTTP 500"], 1);
        assert_eq!(doc["requests_per_s"], 2.0);
        let p50 = doc["p50_us"].as_f64().unwrap();
        assert!((1_990.0..=2_010.0).contains(&p50), "p50 {p50}");
        let p99 = doc["p99_us"].as_f64().unwrap();
        assert!((99_000.0..=101_000.0).contains(&p99), "p99 {p99}");
        assert_eq!(doc["cpu_us"], 10_000.0);
        assert_eq!(doc["cpu_us_per_request"], 2_000.0);
        let none = figures(&args, &SliceMeasure { ok: 0, errors: Default::default(), ..m }, None);
        assert!(none["cpu_us"].is_null() && none["cpu_us_per_request"].is_null());
    }
}
