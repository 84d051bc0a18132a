//! Syslog receivers: TCP with RFC 6587 framing (octet counting or LF, detected per connection)
//! and UDP (one message per datagram). Every frame is parsed (RFC 5424 / RFC 3164); what cannot
//! be parsed is quarantined with its bytes and stream offset. TCP backpressure: a connection's
//! next bytes are not read until its previous batch is durable, and while the ledger is busy.
//!
//! Postfix lines are joined by queue id into one `postfix.message` event per message, as on the
//! file path ([`crate::pipeline::postfix_batch`]): a [`MailCorrelator`] per TCP/TLS connection
//! and per UDP sender emits the message when qmgr logs `removed`; messages idle for
//! [`MAIL_IDLE`] (or open when the connection closes) are emitted as incomplete.
//!
//! [`bind_and_serve`] binds a configuration's listener set ([`ListenerSet`]: TCP, UDP, TLS) and
//! spawns their receivers into one ingest path (an [`AppState`]: one ledger); the single-city
//! `mamori serve` and the prefecture's per-city listeners both start theirs with it. A listener
//! that cannot be bound is a [`ListenError`] naming the protocol, the address and a hint.

use crate::http::{AppState, append_batch};
use crate::pipeline::{Batch, Origin};
use chrono::{FixedOffset, TimeDelta, Utc};
use mamori_sources::{Framer, FramingMode, MailCorrelator, SyslogContext, parse_syslog};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};

/// The UTC offset assumed for syslog timestamps without one (`[server] syslog_default_offset`).
pub(crate) fn offset_of(st: &AppState) -> Option<FixedOffset> {
    st.cfg.syslog_offset()
}

/// A Postfix message with no new line for this long is emitted as incomplete.
pub const MAIL_IDLE: TimeDelta = TimeDelta::minutes(10);

/// Most UDP senders whose Postfix messages are correlated at once (the oldest is flushed).
const MAX_UDP_PEERS: usize = 1024;

fn push_frame(batch: &mut Batch, st: &AppState, data: &[u8], offset: u64, peer: SocketAddr, origin: &Origin, corr: &mut MailCorrelator) {
    let received = Utc::now();
    let ctx = SyslogContext { received, peer: Some(peer.ip()), default_offset: offset_of(st), frame_offset: Some(offset) };
    match parse_syslog(data, &ctx) {
        Ok(doc) => {
            let derived = corr.push(&doc);
            batch.push_doc(doc, data, received, origin, 0, offset, None);
            for d in derived {
                batch.push_doc(d, data, received, origin, 0, offset, None);
            }
        }
        Err(e) => batch.push_rejected(data, &e.to_string(), received, origin, 0, offset),
    }
}

/// Messages whose lines stopped coming (incomplete), or all open ones when `all`.
fn push_open_mail(batch: &mut Batch, corr: &mut MailCorrelator, origin: &Origin, offset: u64, all: bool) {
    let now = Utc::now();
    let docs = if all { corr.finish() } else { corr.expire(now, MAIL_IDLE) };
    for d in docs {
        batch.push_doc(d, b"", now, origin, 0, offset, None);
    }
}

/// Appends, retrying while the ledger is busy (that wait is the TCP backpressure).
async fn append_retrying(st: &AppState, batch: &Batch) {
    loop {
        match append_batch(st, batch).await {
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(?e, "syslog batch not yet accepted; waiting");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves syslog over TCP until the task is dropped.
pub async fn serve_tcp(st: AppState, listener: TcpListener) {
    loop {
        let Ok((sock, peer)) = listener.accept().await else { continue };
        tokio::spawn(handle_stream(st.clone(), sock, peer, "syslog-tcp"));
    }
}

/// Serves syslog over TLS (RFC 5425: the same octet-counted frames inside TLS) until dropped.
pub async fn serve_tls(st: AppState, mut listener: crate::tls::TlsListener) {
    while let Some((sock, peer)) = listener.next().await {
        tokio::spawn(handle_stream(st.clone(), sock, peer, "syslog-tls"));
    }
}

/// Reads one connection's frames until EOF or a fatal framing error.
async fn handle_stream<S: tokio::io::AsyncRead + Unpin>(st: AppState, mut sock: S, peer: SocketAddr, kind: &str) {
    let origin = Origin { source: format!("{kind}:{peer}"), format: "syslog".into() };
    let mut framer = Framer::with_max_frame_length(FramingMode::Auto, st.cfg.server.max_line_bytes);
    let mut buf = vec![0u8; 256 * 1024];
    let mut corr = MailCorrelator::new();
    let mut read_total = 0u64;
    loop {
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        let mut batch = Batch::default();
        if n == 0 {
            // Frames still buffered, then whatever incomplete bytes remain (quarantined).
            while let Some(f) = framer.next_frame() {
                push_framed(&mut batch, &st, f, peer, &origin, &mut corr);
            }
            if let Err(e) = framer.finish() {
                let why = e.to_string();
                batch.push_rejected(e.bytes(), &why, Utc::now(), &origin, 0, e.offset());
            }
            push_open_mail(&mut batch, &mut corr, &origin, read_total, true);
            append_retrying(&st, &batch).await;
            return;
        }
        read_total += n as u64;
        framer.push(&buf[..n]);
        let mut fatal = None;
        while let Some(f) = framer.next_frame() {
            match f {
                Err(e) if e.is_fatal() => fatal = Some(e),
                f => push_framed(&mut batch, &st, f, peer, &origin, &mut corr),
            }
        }
        push_open_mail(&mut batch, &mut corr, &origin, read_total, fatal.is_some());
        if let Some(e) = &fatal {
            // The stream cannot be resynchronised: keep everything from the bad spot on in one
            // quarantine record (the error's own bytes are the start of it), then close.
            let (off, rest) = framer.take_remaining();
            let (off, bytes) = if rest.is_empty() { (e.offset(), e.bytes().to_vec()) } else { (off.min(e.offset()), rest) };
            let why = format!("{e}; the rest of the connection could not be read and is kept here");
            batch.push_rejected(&bytes, &why, Utc::now(), &origin, 0, off);
        }
        if !batch.entries.is_empty() {
            append_retrying(&st, &batch).await;
        }
        if fatal.is_some() {
            return;
        }
    }
}

/// Adds one framing result (a frame, or a non-fatal framing error) to the batch.
fn push_framed(batch: &mut Batch, st: &AppState, f: Result<mamori_sources::Frame, mamori_sources::FramingError>, peer: SocketAddr, origin: &Origin, corr: &mut MailCorrelator) {
    match f {
        Ok(frame) => push_frame(batch, st, &frame.data, frame.offset, peer, origin, corr),
        Err(e) => {
            let why = e.to_string();
            batch.push_rejected(e.bytes(), &why, Utc::now(), origin, 0, e.offset());
        }
    }
}

/// Serves syslog over UDP until the task is dropped.
pub async fn serve_udp(st: AppState, sock: UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    // Postfix messages are correlated per sending host (queue ids are unique per host).
    let mut corrs: HashMap<IpAddr, (MailCorrelator, SocketAddr)> = HashMap::new();
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else { continue };
        let mut batch = Batch::default();
        push_datagram(&mut batch, &st, &buf[..n], peer, &mut corrs);
        // Drain whatever else is already queued so datagrams are group-committed.
        while batch.entries.len() < 4096 {
            match sock.try_recv_from(&mut buf) {
                Ok((n, peer)) => push_datagram(&mut batch, &st, &buf[..n], peer, &mut corrs),
                Err(_) => break,
            }
        }
        for (c, peer) in corrs.values_mut() {
            let origin = Origin { source: format!("syslog-udp:{peer}"), format: "syslog".into() };
            push_open_mail(&mut batch, c, &origin, 0, false);
        }
        corrs.retain(|_, (c, _)| c.open() > 0);
        append_retrying(&st, &batch).await;
    }
}

/// One datagram: its own origin (its sender), and the frame size limit as on TCP.
fn push_datagram(batch: &mut Batch, st: &AppState, data: &[u8], peer: SocketAddr, corrs: &mut HashMap<IpAddr, (MailCorrelator, SocketAddr)>) {
    let origin = Origin { source: format!("syslog-udp:{peer}"), format: "syslog".into() };
    if !corrs.contains_key(&peer.ip()) && corrs.len() >= MAX_UDP_PEERS {
        // Flush one sender's open messages as incomplete to stay bounded.
        if let Some(ip) = corrs.keys().next().copied()
            && let Some((mut c, p)) = corrs.remove(&ip)
        {
            let o = Origin { source: format!("syslog-udp:{p}"), format: "syslog".into() };
            push_open_mail(batch, &mut c, &o, 0, true);
        }
    }
    let (corr, last) = corrs.entry(peer.ip()).or_insert_with(|| (MailCorrelator::new(), peer));
    *last = peer;
    let max = st.cfg.server.max_line_bytes;
    if data.len() > max {
        let why = format!("byte 0: datagram of {} bytes is longer than the maximum of {max} bytes (server.max_line_bytes)", data.len());
        batch.push_rejected(data, &why, Utc::now(), &origin, 0, 0);
        return;
    }
    push_frame(batch, st, data, 0, peer, &origin, corr);
}

/// The syslog listeners to start: `IP:PORT` addresses (port 0 binds a free port), each off when
/// `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerSet {
    /// Syslog over TCP (RFC 6587 framing).
    pub tcp: Option<String>,
    /// Syslog over UDP (one message per datagram).
    pub udp: Option<String>,
    /// Syslog over TLS (RFC 5425); needs a TLS configuration.
    pub tls: Option<String>,
}

impl ListenerSet {
    /// The listeners a configuration asks for (`[server] syslog_tcp`, `syslog_udp`, `syslog_tls`).
    pub fn from_config(srv: &crate::config::ServerConfig) -> Self {
        ListenerSet { tcp: srv.syslog_tcp.clone(), udp: srv.syslog_udp.clone(), tls: srv.syslog_tls.clone() }
    }

    /// Whether no listener is asked for.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_none() && self.udp.is_none() && self.tls.is_none()
    }
}

/// A syslog transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP with RFC 6587 framing.
    Tcp,
    /// UDP.
    Udp,
    /// TLS (RFC 5425).
    Tls,
}

impl Protocol {
    /// `tcp`, `udp` or `tls`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Tls => "tls",
        }
    }
}

impl std::fmt::Display for Protocol {
    /// `TCP`, `UDP` or `TLS`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Tls => "TLS",
        })
    }
}

/// A listener started by [`bind_and_serve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoundListener {
    /// Its transport.
    pub protocol: Protocol,
    /// The bound address (the actual port when port 0 was asked for).
    pub addr: SocketAddr,
}

/// Why the syslog listeners could not be started. Nothing was started then.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// A listener's address could not be bound. (The operating system's error is part of the
    /// message, not a separate `source()`, so that printing the error chain does not repeat it.)
    #[error("syslog {protocol} の受信口 {addr} を開けません({}) / cannot bind the syslog {protocol} listener {addr} ({}): {error}", bind_hint(error).0, bind_hint(error).1)]
    Bind {
        /// Its transport.
        protocol: Protocol,
        /// The address as configured.
        addr: String,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// Syslog over TLS was asked for without a certificate and key.
    #[error("syslog TLS の受信口 {addr} には証明書と秘密鍵が必要です(--tls-cert・--tls-key、[server] tls_cert・tls_key)/ syslog over TLS ({addr}) needs a certificate and key (--tls-cert and --tls-key, or [server] tls_cert and tls_key)")]
    NoTlsConfig {
        /// The TLS listener's address as configured.
        addr: String,
    },
}

impl ListenError {
    /// The transport of the listener that failed.
    pub fn protocol(&self) -> Protocol {
        match self {
            ListenError::Bind { protocol, .. } => *protocol,
            ListenError::NoTlsConfig { .. } => Protocol::Tls,
        }
    }

    /// The failed listener's address as configured.
    pub fn addr(&self) -> &str {
        match self {
            ListenError::Bind { addr, .. } | ListenError::NoTlsConfig { addr } => addr,
        }
    }
}

/// A hint for an operator, (Japanese, English), from why a bind failed.
fn bind_hint(e: &std::io::Error) -> (&'static str, &'static str) {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::AddrInUse => ("ポートは使用中です。別のプログラムか別の受信口が使っています", "port in use: another program or another listener holds it"),
        K::PermissionDenied => ("権限がありません。1024 未満のポートには root か CAP_NET_BIND_SERVICE が必要です", "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE"),
        K::AddrNotAvailable => ("このマシンにないアドレスです", "address not available: no interface of this machine has it"),
        K::InvalidInput => ("アドレスは IP:ポート の形で指定してください", "expected IP:PORT"),
        _ if e.to_string().contains("lookup") => ("アドレスを解決できません。IP:ポート の形で指定してください", "cannot resolve the address: expected IP:PORT"),
        _ => ("OS のエラーを確認してください", "see the operating system's error"),
    }
}

/// Binds the listeners of `set` and spawns their receivers on the current tokio runtime, every
/// message going into `st`'s ingest path (its ledger; parsed, or quarantined when unparsable).
/// `tls` is the server configuration of the TLS listener (see [`crate::tls::load_server_config`]).
///
/// Every listener is bound before any receiver starts: on an error (the first listener that
/// could not be bound, in the order TCP, UDP, TLS) nothing is left listening. Returns the bound
/// listeners in that order.
pub async fn bind_and_serve(st: &AppState, set: &ListenerSet, tls: Option<Arc<rustls::ServerConfig>>) -> Result<Vec<BoundListener>, ListenError> {
    fn bind_err(protocol: Protocol, addr: &str) -> impl FnOnce(std::io::Error) -> ListenError + '_ {
        move |error| ListenError::Bind { protocol, addr: addr.to_owned(), error }
    }
    let tls_cfg = match (&set.tls, tls) {
        (Some(a), None) => return Err(ListenError::NoTlsConfig { addr: a.clone() }),
        (_, t) => t,
    };
    let mut tcp = None;
    if let Some(a) = &set.tcp {
        let l = TcpListener::bind(a).await.map_err(bind_err(Protocol::Tcp, a))?;
        let local = l.local_addr().map_err(bind_err(Protocol::Tcp, a))?;
        tcp = Some((l, local));
    }
    let mut udp = None;
    if let Some(a) = &set.udp {
        let s = UdpSocket::bind(a).await.map_err(bind_err(Protocol::Udp, a))?;
        let local = s.local_addr().map_err(bind_err(Protocol::Udp, a))?;
        udp = Some((s, local));
    }
    let mut tls = None;
    if let (Some(a), Some(cfg)) = (&set.tls, tls_cfg) {
        let l = TcpListener::bind(a).await.map_err(bind_err(Protocol::Tls, a))?;
        let local = l.local_addr().map_err(bind_err(Protocol::Tls, a))?;
        // Last of the three: its accept task starts only when everything else is bound.
        tls = Some((crate::tls::TlsListener::new(l, cfg).map_err(bind_err(Protocol::Tls, a))?, local));
    }
    let mut out = Vec::new();
    if let Some((l, addr)) = tcp {
        tokio::spawn(serve_tcp(st.clone(), l));
        out.push(BoundListener { protocol: Protocol::Tcp, addr });
    }
    if let Some((s, addr)) = udp {
        tokio::spawn(serve_udp(st.clone(), s));
        out.push(BoundListener { protocol: Protocol::Udp, addr });
    }
    if let Some((l, addr)) = tls {
        tokio::spawn(serve_tls(st.clone(), l));
        out.push(BoundListener { protocol: Protocol::Tls, addr });
    }
    Ok(out)
}
