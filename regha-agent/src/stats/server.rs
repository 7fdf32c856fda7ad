//! The HTTP side (hyper 1, HTTP/1.1): basic auth first, then three routes.
//! The agent's loop never waits for it: the agent publishes its state on a
//! watch channel after each reconcile, and the listener reads the maps
//! itself, through its own handles on the pins, when a request comes.
//! Beside the connections it runs two loops of its own for the page's
//! history (`history.rs`): one samples the counters every
//! [`SAMPLE_EVERY`], one notes each state change the agent publishes.

use std::{
    convert::Infallible,
    path::PathBuf,
    sync::Mutex,
    time::{Duration, Instant, SystemTime},
};

use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header,
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::watch};
use tracing::debug;

use super::{
    auth::{CHALLENGE, Credentials},
    history::{History, SAMPLE_EVERY},
    metrics, page,
};
use crate::{
    dataplane::MapWriter,
    status::{AgentStatus, StatusDocument, document},
};

/// A client has this long to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What a request needs.
pub struct Context {
    pub iface: String,
    pub pin_dir: PathBuf,
    pub state: watch::Receiver<Option<AgentStatus>>,
    pub auth: Option<Credentials>,
    /// Opened on the first request (the pins exist by then).
    maps: Mutex<Option<MapWriter>>,
    /// The page's rates, graphs and changes.
    pub history: Mutex<History>,
}

impl Context {
    pub fn new(
        iface: String,
        pin_dir: PathBuf,
        state: watch::Receiver<Option<AgentStatus>>,
        auth: Option<Credentials>,
    ) -> Self {
        Self {
            iface,
            pin_dir,
            state,
            auth,
            maps: Mutex::new(None),
            history: Mutex::new(History::default()),
        }
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Samples the counters into the history now.
    pub fn sample(&self) {
        match self.document() {
            Ok(doc) => self.history().record(Instant::now(), &doc),
            Err(e) => debug!(error = %e, "stats sample skipped"),
        }
    }

    /// The document as of now: the maps read now, the agent's latest state.
    pub fn document(&self) -> Result<StatusDocument, String> {
        let agent = self.state.borrow().clone();
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        if maps.is_none() {
            *maps = Some(MapWriter::open(&self.pin_dir).map_err(|e| e.to_string())?);
        }
        let maps = maps.as_ref().expect("opened above");
        document::build(maps, &self.iface, agent).map_err(|e| e.to_string())
    }
}

/// Serves, samples and watches until the task is dropped.
pub async fn serve(listener: TcpListener, ctx: std::sync::Arc<Context>) {
    tokio::join!(
        accept(listener, ctx.clone()),
        sample(ctx.clone()),
        watch_changes(ctx)
    );
}

/// Every [`SAMPLE_EVERY`], the counters into the history.
async fn sample(ctx: std::sync::Arc<Context>) {
    // `start` took the first sample.
    let mut every =
        tokio::time::interval_at(tokio::time::Instant::now() + SAMPLE_EVERY, SAMPLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        ctx.sample();
    }
}

/// Each status the agent publishes, compared with the one before.
async fn watch_changes(ctx: std::sync::Arc<Context>) {
    let mut rx = ctx.state.clone();
    loop {
        let status = rx.borrow_and_update().clone();
        if let Some(status) = status {
            ctx.history().observe(SystemTime::now(), &status);
        }
        if rx.changed().await.is_err() {
            // The agent is gone: nothing more will change.
            std::future::pending::<()>().await;
        }
    }
}

/// Accepts connections and serves each on a task of this listener's
/// own: when the listener ends (a reload replaced it), its connections end
/// with it, so a kept-alive one is not served on as the old configuration
/// said (without the auth a reload turned on, say).
async fn accept(listener: TcpListener, ctx: std::sync::Arc<Context>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                debug!(error = %e, "stats accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        connections.spawn(async move {
            let svc = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(handle(&ctx, &req)) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                debug!(%peer, error = %e, "stats connection ended");
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(body.into()))
        .expect("static headers are valid")
}

const TEXT: &str = "text/plain; charset=utf-8";

/// One request to one answer.
pub fn handle(ctx: &Context, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    route(
        ctx,
        req.method(),
        req.uri().path(),
        req.headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
    )
}

/// The routing and auth, apart from hyper's body type (for tests).
pub fn route(
    ctx: &Context,
    method: &Method,
    path: &str,
    authorization: Option<&[u8]>,
) -> Response<Full<Bytes>> {
    if let Some(creds) = &ctx.auth
        && !creds.check(authorization)
    {
        let mut r = reply(
            StatusCode::UNAUTHORIZED,
            TEXT,
            "401 authentication required\n",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(CHALLENGE),
        );
        return r;
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "405 only GET and HEAD\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let render: fn(&Context, &StatusDocument) -> (String, &'static str) = match path {
        "/" => |ctx, d| {
            let view = ctx.history().view(Instant::now(), SystemTime::now(), d);
            (page::render(d, &view), "text/html; charset=utf-8")
        },
        "/metrics" => |_, d| (metrics::render(d), metrics::CONTENT_TYPE),
        "/status" => |_, d| {
            let mut json = serde_json::to_string_pretty(d).expect("plain data serializes");
            json.push('\n');
            (json, "application/json")
        },
        _ => {
            return reply(
                StatusCode::NOT_FOUND,
                TEXT,
                "404 not found: try /, /metrics or /status\n",
            );
        }
    };
    match ctx.document() {
        Ok(doc) => {
            let (body, content_type) = render(ctx, &doc);
            reply(StatusCode::OK, content_type, body)
        }
        Err(e) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            format!("503 the dataplane's maps cannot be read: {e}\n"),
        ),
    }
}
