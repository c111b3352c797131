//! TCP and TLS: accepting, the connection limit, and RFC 8656 §12.5 framing.

use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::Shared;
use crate::server::{FiveTuple, Transport};
use crate::stun;

/// The largest frame: a STUN message (20-byte header, length up to 65 532) or a padded
/// ChannelData message (4-byte header, up to 65 536).
const MAX_FRAME: usize = stun::HEADER_LEN + 65_532 + 4;
/// The read buffer a connection starts with; it grows (up to [`MAX_FRAME`]) only for larger
/// frames.
const INITIAL_BUF: usize = 4096;
/// Transmits queued for one connection; more are dropped.
const WRITE_QUEUE: usize = 128;
/// Time to complete the TLS handshake, and to send the first complete frame.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack above the longest allocation lifetime before a silent connection is closed.
const IDLE_SLACK: Duration = Duration::from_secs(60);
/// Time to write one frame before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept error (e.g. out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Holds one connection slot; gives it back when dropped.
struct Slot(Rc<Shared>);

impl Slot {
    fn take(shared: &Rc<Shared>) -> Option<Slot> {
        let n = shared.connections.get();
        if n >= shared.max_connections {
            return None;
        }
        shared.connections.set(n + 1);
        Some(Slot(Rc::clone(shared)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let n = self.0.connections.get();
        self.0.connections.set(n.saturating_sub(1));
    }
}

/// Accepts connections on `listener` until aborted.
pub(super) async fn accept(shared: Rc<Shared>, listener: TcpListener, transport: Transport) {
    loop {
        let (tcp, client) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        let Some(slot) = Slot::take(&shared) else {
            tracing::warn!(client = %client, "connection limit reached; connection refused");
            drop(tcp);
            continue;
        };
        let server = match tcp.local_addr() {
            Ok(server) => server,
            Err(e) => {
                tracing::debug!(client = %client, error = %e, "connection lost at once");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let tuple = FiveTuple {
            transport,
            client,
            server,
        };
        tokio::task::spawn_local(connection(slot, tcp, tuple));
    }
}

/// One connection: the TLS handshake when needed, then framing until it closes.
async fn connection(slot: Slot, tcp: TcpStream, tuple: FiveTuple) {
    let shared = Rc::clone(&slot.0);
    if tuple.transport == Transport::Tls {
        let Some(acceptor) = shared.tls_acceptor.clone() else {
            return;
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => serve(&shared, tls, tuple).await,
            Ok(Err(e)) => {
                tracing::debug!(client = %tuple.client, error = %e, "TLS handshake failed")
            }
            Err(_) => tracing::debug!(client = %tuple.client, "TLS handshake timed out"),
        }
    } else {
        serve(&shared, tcp, tuple).await;
    }
    drop(slot);
}

/// Why a connection ended (for the debug log).
#[derive(Debug)]
enum Close {
    /// The client closed it.
    Eof,
    /// Shutdown: the write queue was closed.
    Stopped,
    /// It sent something that is not a STUN or ChannelData frame.
    Unframeable,
    /// Nothing arrived for too long.
    Idle,
    /// A read or write failed or timed out.
    Io,
}

/// Registers the connection's write queue, runs it, and tells the core when it is over.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Rc<Shared>,
    stream: S,
    tuple: FiveTuple,
) {
    let (tx, mut rx) = mpsc::channel(WRITE_QUEUE);
    shared.streams.borrow_mut().insert(tuple, tx);
    tracing::debug!(transport = ?tuple.transport, client = %tuple.client, "connection opened");
    let close = run(shared, stream, tuple, &mut rx).await;
    tracing::debug!(
        transport = ?tuple.transport,
        client = %tuple.client,
        reason = ?close,
        "connection closed"
    );
    shared.streams.borrow_mut().remove(&tuple);
    shared.core.borrow_mut().connection_closed(tuple);
    let mut out = Vec::new();
    shared.flush_and_send(&mut out).await;
}

/// The connection loop: reads frames into the core, writes what the core queued for it.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Rc<Shared>,
    mut stream: S,
    tuple: FiveTuple,
    rx: &mut mpsc::Receiver<Vec<u8>>,
) -> Close {
    let idle_limit = shared.core.borrow().config().max_lifetime + IDLE_SLACK;
    let mut buf = vec![0u8; INITIAL_BUF];
    let (mut start, mut end) = (0usize, 0usize);
    let mut out = Vec::new();
    let idle = tokio::time::sleep(HANDSHAKE_TIMEOUT);
    tokio::pin!(idle);
    let close = loop {
        tokio::select! {
            read = stream.read(&mut buf[end..]) => {
                match read {
                    Ok(0) => break Close::Eof,
                    Ok(n) => end += n,
                    Err(_) => break Close::Io,
                }
                let mut frames = 0;
                let parsed = loop {
                    match stun::stream_frame_len(buf.get(start..end).unwrap_or_default()) {
                        Err(_) => break Err(Close::Unframeable),
                        Ok(Some(len)) if end - start >= len => {
                            if let Some(frame) = buf.get(start..start + len) {
                                shared.core.borrow_mut().handle_client(Instant::now(), tuple, frame);
                            }
                            start += len;
                            frames += 1;
                        }
                        Ok(Some(len)) => break Ok(len),
                        Ok(None) => break Ok(4),
                    }
                };
                let need = match parsed {
                    Ok(need) => need,
                    Err(close) => break close,
                };
                make_room(&mut buf, &mut start, &mut end, need);
                if frames > 0 {
                    idle.as_mut().reset(tokio::time::Instant::now() + idle_limit);
                    shared.flush_and_send(&mut out).await;
                }
            }
            queued = rx.recv() => {
                let Some(data) = queued else { break Close::Stopped };
                let written = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&data)).await;
                shared.core.borrow_mut().recycle(data);
                if !matches!(written, Ok(Ok(()))) {
                    break Close::Io;
                }
            }
            () = &mut idle => break Close::Idle,
        }
    };
    if matches!(close, Close::Stopped | Close::Eof | Close::Unframeable) {
        // Flush what is queued and close cleanly (TLS: close_notify).
        while let Ok(data) = rx.try_recv() {
            let written = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&data)).await;
            shared.core.borrow_mut().recycle(data);
            if !matches!(written, Ok(Ok(()))) {
                return close;
            }
        }
        let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.shutdown()).await;
    }
    close
}

/// Makes sure `buf` can hold a frame of `need` bytes starting at `start`, moving the
/// buffered bytes to the front when that helps, and growing the buffer (up to
/// [`MAX_FRAME`]) only when the frame is larger than it. Afterwards `end < buf.len()`.
fn make_room(buf: &mut Vec<u8>, start: &mut usize, end: &mut usize, need: usize) {
    if *start == *end {
        *start = 0;
        *end = 0;
    }
    let need = need.clamp(4, MAX_FRAME);
    if buf.len() - *start < need || *end == buf.len() {
        buf.copy_within(*start..*end, 0);
        *end -= *start;
        *start = 0;
        if buf.len() < need {
            buf.resize(need, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_for_frames() {
        let mut buf = vec![0u8; 8];
        let (mut start, mut end) = (6, 8);
        buf[6] = 1;
        make_room(&mut buf, &mut start, &mut end, 28);
        assert_eq!((start, end, buf.len(), buf[0]), (0, 2, 28, 1));
        let (mut start, mut end) = (4, 4);
        make_room(&mut buf, &mut start, &mut end, 4);
        assert_eq!((start, end), (0, 0));
        make_room(&mut buf, &mut start, &mut end, 1 << 20);
        assert_eq!(buf.len(), MAX_FRAME);
    }
}
