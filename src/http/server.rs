//! The listener: caps on connections (in all and per client address), the TLS handshake
//! and each request's headers bounded by `header_timeout`, HTTP/1.1 by hyper. Every request
//! carries the [`Peer`] it came from. A refused connection is counted, and logged at most
//! once a minute per reason.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::web_config::{certificate_identity, Watched};
use crate::snapshot::Snapshot;
use crate::sync::{lock, Throttle};

/// Where a request came from.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// Who a verified client certificate says the client is.
    pub certificate: Option<String>,
}

/// The listener's limits (`[server]`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_per_client: usize,
    /// TLS handshake, and each request's headers (idle keep-alive included).
    pub header_timeout: Duration,
}

/// What the accept loop shares with each connection.
struct Shared {
    router: Router,
    web: Arc<Watched>,
    snapshot: Arc<Snapshot>,
    limits: Limits,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    throttle: Throttle,
}

impl Shared {
    fn refuse(&self, reason: &'static str, addr: SocketAddr, detail: &str) {
        self.snapshot.count_rejected(reason);
        if let Some(held) = self.throttle.allow(reason) {
            tracing::warn!(reason, client = %addr, held_back = held, "{detail}");
        }
    }
}

/// One client address's connection count, given back on drop.
struct ClientSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = lock(&self.shared.per_client);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

fn take_client_slot(shared: &Arc<Shared>, ip: IpAddr) -> Option<ClientSlot> {
    let mut map = lock(&shared.per_client);
    let n = map.entry(ip).or_insert(0);
    if *n >= shared.limits.max_per_client {
        return None;
    }
    *n += 1;
    Some(ClientSlot {
        shared: Arc::clone(shared),
        ip,
    })
}

/// The most connections the process's open-file limit leaves room for, after raising
/// the soft limit to the hard one (as Go programs do at start). Collectors, PostgreSQL
/// sessions and the state database keep 128 descriptors for themselves.
pub fn connection_room(wanted: usize) -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return wanted;
    };
    let soft = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let room = usize::try_from(soft.saturating_sub(128)).unwrap_or(usize::MAX);
    if room < wanted {
        tracing::warn!(
            max_connections = wanted,
            open_file_limit = soft,
            used = room,
            "server.max_connections is above what the open-file limit leaves room for; using the lower figure."
        );
    }
    wanted.min(room).max(1)
}

/// Serves `router` on `listener` until `shutdown`, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    web: Arc<Watched>,
    snapshot: Arc<Snapshot>,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let shared = Arc::new(Shared {
        router,
        web,
        snapshot,
        limits,
        per_client: Mutex::new(HashMap::new()),
        throttle: Throttle::new(Duration::from_secs(60)),
    });
    let tracker = TaskTracker::new();
    loop {
        let (stream, addr) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or memory: wait instead of spinning.
                    if shared.throttle.allow("accept").is_some() {
                        tracing::error!(error = %e, "Cannot accept a connection.");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            refuse_busy(&stream, shared.web.current().tls.is_none());
            shared.refuse(
                "connection_limit",
                addr,
                "Connection refused: server.max_connections reached.",
            );
            continue;
        };
        let Some(slot) = take_client_slot(&shared, addr.ip()) else {
            refuse_busy(&stream, shared.web.current().tls.is_none());
            shared.refuse(
                "client_connection_limit",
                addr,
                "Connection refused: server.max_connections_per_client reached for this address.",
            );
            continue;
        };
        let shared = Arc::clone(&shared);
        let token = shutdown.clone();
        tracker.spawn(async move {
            connection(stream, addr, shared, token, (permit, slot)).await;
        });
    }
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// Plain HTTP only: a 503 written without waiting, so a client at the cap learns why.
fn refuse_busy(stream: &TcpStream, plain: bool) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\ntoo many connections\n";
    if plain {
        // Best effort: a client that cannot take 180 bytes now gets the close alone.
        stream.try_write(BUSY).ok();
    }
}

async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    _held: (OwnedSemaphorePermit, ClientSlot),
) {
    stream.set_nodelay(true).ok();
    let config = shared.web.current();
    let Some(tls) = config.tls.clone() else {
        let peer = Peer {
            addr,
            certificate: None,
        };
        http1(stream, peer, &shared, &shutdown).await;
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let accepted =
        tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(stream)).await;
    let stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            shared.snapshot.count_rejected("tls_handshake");
            if let Some(held) = shared.throttle.allow("tls_handshake") {
                tracing::warn!(client = %addr, error = %e, held_back = held, "TLS handshake failed.");
            }
            return;
        }
        Err(_) => {
            shared.snapshot.count_rejected("timeout");
            return;
        }
    };
    let verifies = config
        .client_auth
        .is_some_and(super::web_config::ClientAuth::verifies);
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .filter(|_| verifies)
        .and_then(certificate_identity);
    let peer = Peer { addr, certificate };
    http1(stream, peer, &shared, &shutdown).await;
}

async fn http1<S>(io: S, peer: Peer, shared: &Shared, shutdown: &CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = shared.router.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(peer.clone());
            router.clone().oneshot(req)
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            shared.snapshot.count_rejected("timeout");
        }
    }
}
