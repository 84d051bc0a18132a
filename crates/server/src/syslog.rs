//! Syslog receivers: TCP with RFC 6587 framing (octet counting or LF, detected per connection)
//! and UDP (one message per datagram). Every frame is parsed (RFC 5424 / RFC 3164); what cannot
//! be parsed is quarantined with its bytes and stream offset. TCP backpressure: a connection's
//! next bytes are not read until its previous batch is durable, and while the ledger is busy.

use crate::http::{AppState, append_batch};
use crate::pipeline::{Batch, Origin};
use chrono::{FixedOffset, Utc};
use mamori_sources::{Framer, FramingMode, SyslogContext, parse_syslog};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};

/// The UTC offset assumed for syslog timestamps without one (`[server] syslog_default_offset`).
pub(crate) fn offset_of(st: &AppState) -> Option<FixedOffset> {
    st.cfg.syslog_offset()
}

fn push_frame(batch: &mut Batch, st: &AppState, data: &[u8], offset: u64, peer: SocketAddr, origin: &Origin) {
    let received = Utc::now();
    let ctx = SyslogContext { received, peer: Some(peer.ip()), default_offset: offset_of(st), frame_offset: Some(offset) };
    match parse_syslog(data, &ctx) {
        Ok(doc) => batch.push_doc(doc, data, received, origin, 0, offset, None),
        Err(e) => batch.push_rejected(data, &e.to_string(), received, origin, 0, offset),
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
    loop {
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        let mut batch = Batch::default();
        if n == 0 {
            // Frames still buffered, then whatever incomplete bytes remain (quarantined).
            while let Some(f) = framer.next_frame() {
                push_framed(&mut batch, &st, f, peer, &origin);
            }
            if let Err(e) = framer.finish() {
                let why = e.to_string();
                batch.push_rejected(e.bytes(), &why, Utc::now(), &origin, 0, e.offset());
            }
            append_retrying(&st, &batch).await;
            return;
        }
        framer.push(&buf[..n]);
        let mut fatal = None;
        while let Some(f) = framer.next_frame() {
            match f {
                Err(e) if e.is_fatal() => fatal = Some(e),
                f => push_framed(&mut batch, &st, f, peer, &origin),
            }
        }
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
fn push_framed(batch: &mut Batch, st: &AppState, f: Result<mamori_sources::Frame, mamori_sources::FramingError>, peer: SocketAddr, origin: &Origin) {
    match f {
        Ok(frame) => push_frame(batch, st, &frame.data, frame.offset, peer, origin),
        Err(e) => {
            let why = e.to_string();
            batch.push_rejected(e.bytes(), &why, Utc::now(), origin, 0, e.offset());
        }
    }
}

/// Serves syslog over UDP until the task is dropped.
pub async fn serve_udp(st: AppState, sock: UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else { continue };
        let mut batch = Batch::default();
        push_datagram(&mut batch, &st, &buf[..n], peer);
        // Drain whatever else is already queued so datagrams are group-committed.
        while batch.entries.len() < 4096 {
            match sock.try_recv_from(&mut buf) {
                Ok((n, peer)) => push_datagram(&mut batch, &st, &buf[..n], peer),
                Err(_) => break,
            }
        }
        append_retrying(&st, &batch).await;
    }
}

/// One datagram: its own origin (its sender), and the frame size limit as on TCP.
fn push_datagram(batch: &mut Batch, st: &AppState, data: &[u8], peer: SocketAddr) {
    let origin = Origin { source: format!("syslog-udp:{peer}"), format: "syslog".into() };
    let max = st.cfg.server.max_line_bytes;
    if data.len() > max {
        let why = format!("byte 0: datagram of {} bytes is longer than the maximum of {max} bytes (server.max_line_bytes)", data.len());
        batch.push_rejected(data, &why, Utc::now(), &origin, 0, 0);
        return;
    }
    push_frame(batch, st, data, 0, peer, &origin);
}
