//! Syslog receivers: TCP with RFC 6587 framing (octet counting or LF, detected per connection)
//! and UDP (one message per datagram). Every frame is parsed (RFC 5424 / RFC 3164); what cannot
//! be parsed is quarantined with its bytes and stream offset. TCP backpressure: a connection's
//! next bytes are not read until its previous batch is durable, and while the ledger is busy.
//!
//! Postfix lines are joined by queue id into one `postfix.message` event per message, as on the
//! file path ([`crate::pipeline::postfix_batch`]): a [`MailCorrelator`] per TCP/TLS connection
//! and per UDP sender emits the message when qmgr logs `removed`; messages idle for
//! [`MAIL_IDLE`] (or open when the connection closes) are emitted as incomplete.

use crate::http::{AppState, append_batch};
use crate::pipeline::{Batch, Origin};
use chrono::{FixedOffset, TimeDelta, Utc};
use mamori_sources::{Framer, FramingMode, MailCorrelator, SyslogContext, parse_syslog};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
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
