//! The tokio driver: runs a [`Server`] on UDP, TCP and TLS listeners with real relay
//! sockets.
//!
//! [`spawn`] binds every listener, then runs the server on a thread of its own — a
//! current-thread tokio runtime with a [`LocalSet`], the core in an `Rc<RefCell<_>>` that is
//! never borrowed across an `.await` — and returns a [`Running`] handle once it listens.
//!
//! * Each UDP listener and each relay socket has a receive task. All of them share one
//!   64 KiB receive buffer (a datagram is read with `try_recv_from` and handed to the core
//!   before the next `.await`), so an allocation costs a socket and a small task, not a
//!   buffer.
//! * Relay sockets are bound by the relay provider as the core allocates them (another port
//!   is tried when a bind fails) and closed when the allocation ends.
//! * TCP and TLS connections are framed with [`stream_frame_len`](crate::stun::stream_frame_len);
//!   an unframeable stream is closed and its allocation ended. Connections are bounded
//!   ([`DriverConfig::max_connections`]), as are their buffers (one frame, at most 64 KiB
//!   plus header) and write queues (excess transmits are dropped, as UDP would).
//! * A timer task calls [`Server::handle_timeout`] when the core asks (at least every
//!   second).
//! * Logs (`tracing`) name addresses and counters, never payloads, keys or passwords.
//!
//! ```no_run
//! use quietroom_turn::auth::StaticCredentials;
//! use quietroom_turn::driver::{self, DriverConfig};
//! use quietroom_turn::policy::DefaultPeerPolicy;
//! use quietroom_turn::server::ServerConfig;
//!
//! let mut users = StaticCredentials::new("example.org");
//! users.add("alice", "correct horse");
//! let mut driver_config = DriverConfig::new(vec!["192.0.2.10".parse()?]);
//! driver_config.udp.push("192.0.2.10:3478".parse()?);
//! let running = driver::spawn(
//!     ServerConfig::new("example.org"),
//!     Box::new(users),
//!     Box::new(DefaultPeerPolicy::new()),
//!     driver_config,
//! )?;
//! println!("listening on {:?}", running.udp_addrs());
//! running.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod icmp;
mod relay_sockets;
mod stream;
mod tls;
mod udp;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use ring::rand::{SecureRandom, SystemRandom};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, LocalSet};

pub use tls::tls_config_from_pem;

use crate::TurnError;
use crate::auth::CredentialStore;
use crate::policy::PeerPolicy;
use crate::server::{
    Destination, FiveTuple, Server, ServerConfig, ServerStats, Transmit, Transport, TurnEvent,
};
use relay_sockets::{BindingRelays, Parked};

/// The longest the timer task sleeps between calls to [`Server::handle_timeout`].
const MAX_TIMER_SLEEP: Duration = Duration::from_secs(1);
/// How long shutdown waits for stream connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Where and how the driver listens and relays.
///
/// ```
/// use quietroom_turn::driver::DriverConfig;
/// let mut config = DriverConfig::new(vec!["127.0.0.1".parse()?]);
/// config.udp.push("127.0.0.1:3478".parse()?);
/// config.tcp.push("127.0.0.1:3478".parse()?);
/// assert_eq!(config.relay_ports, 49152..=65535);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DriverConfig {
    /// UDP listening addresses (port 0 picks a free port; see [`Running::udp_addrs`]).
    pub udp: Vec<SocketAddr>,
    /// TCP listening addresses.
    pub tcp: Vec<SocketAddr>,
    /// TLS-over-TCP listening addresses; they need [`tls_config`](Self::tls_config).
    pub tls: Vec<SocketAddr>,
    /// The TLS server settings, e.g. from [`tls_config_from_pem`].
    pub tls_config: Option<Arc<rustls::ServerConfig>>,
    /// The relay IPs (at most one IPv4 and one IPv6 address are used).
    pub relay_ips: Vec<IpAddr>,
    /// The relay port range (RFC 8656 suggests 49152–65535).
    pub relay_ports: RangeInclusive<u16>,
    /// Most TCP and TLS connections at once (including TLS handshakes in progress); further
    /// connections are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl DriverConfig {
    /// No listeners yet, relays on `relay_ips` over ports 49152–65535, at most 10 000 stream
    /// connections.
    pub fn new(relay_ips: Vec<IpAddr>) -> Self {
        DriverConfig {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            tls_config: None,
            relay_ips,
            relay_ports: 49152..=65535,
            max_connections: 10_000,
        }
    }
}

/// A running server; [`shutdown`](Self::shutdown) stops it (dropping it does too, without
/// reporting errors).
#[derive(Debug)]
pub struct Running {
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
    tls: Vec<SocketAddr>,
    stats: Arc<Mutex<ServerStats>>,
    /// New alternate-server lists for the server thread.
    alternates: mpsc::UnboundedSender<Vec<SocketAddr>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), TurnError>>>,
}

impl Running {
    /// The bound UDP listening addresses (with the actual ports when port 0 was asked).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }

    /// The bound TCP listening addresses.
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp
    }

    /// The bound TLS listening addresses.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls
    }

    /// A snapshot of the server's counters.
    pub fn stats(&self) -> ServerStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends new allocations to `alternates` from now on (300 Try Alternate), or, with an
    /// empty list, serves them here again; see
    /// [`ServerConfig::alternate_servers`](crate::server::ServerConfig::alternate_servers).
    /// Existing allocations stay: this drains a server before it is taken out of service.
    ///
    /// # Errors
    ///
    /// [`TurnError::Io`] if the server thread has stopped.
    pub fn set_alternate_servers(&self, alternates: Vec<SocketAddr>) -> Result<(), TurnError> {
        self.alternates
            .send(alternates)
            .map_err(|_| TurnError::Io("the TURN server thread has stopped".into()))
    }

    /// Stops gracefully: closes the listeners, ends every allocation (closing its relay
    /// sockets), lets stream connections flush for up to a second, and joins the server
    /// thread.
    ///
    /// # Errors
    ///
    /// [`TurnError::Io`] if the server thread failed or panicked.
    pub fn shutdown(mut self) -> Result<(), TurnError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), TurnError> {
        if let Some(stop) = self.stop.take() {
            // An error means the thread is already gone; joining reports why.
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| TurnError::Io("the TURN server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_join() {
            tracing::warn!(error = %e, "TURN server stopped with an error");
        }
    }
}

/// Binds every listener, then runs the server on its own thread (a current-thread tokio
/// runtime and a [`LocalSet`]), returning once it is listening.
///
/// `config.listen_addresses` is extended with the bound addresses (for a wildcard address,
/// also its loopback and relay-IP spellings), so the core refuses to relay to the server
/// itself.
///
/// # Errors
///
/// [`TurnError::Config`] for no listener, TLS listeners without
/// [`tls_config`](DriverConfig::tls_config), or an unusable relay IP or port range;
/// [`TurnError::Io`] when a listener cannot be bound or the runtime cannot start.
pub fn spawn(
    mut config: ServerConfig,
    credentials: Box<dyn CredentialStore>,
    policy: Box<dyn PeerPolicy>,
    driver: DriverConfig,
) -> Result<Running, TurnError> {
    if driver.udp.is_empty() && driver.tcp.is_empty() && driver.tls.is_empty() {
        return Err(TurnError::Config {
            what: "listeners",
            reason: "give at least one UDP, TCP or TLS listening address".into(),
        });
    }
    let tls_acceptor = match (&driver.tls_config, driver.tls.is_empty()) {
        (_, true) => None,
        (Some(tls), false) => Some(tokio_rustls::TlsAcceptor::from(Arc::clone(tls))),
        (None, false) => {
            return Err(TurnError::Config {
                what: "TLS listeners",
                reason: "TLS listening addresses need a TLS configuration (certificate and key)"
                    .into(),
            });
        }
    };
    let parked = Parked::default();
    let relays = BindingRelays::new(
        &driver.relay_ips,
        driver.relay_ports.clone(),
        parked.clone(),
    )?;

    let bind_err = |what: &str, addr: SocketAddr, e: std::io::Error| {
        TurnError::Io(format!("binding the {what} listener on {addr}: {e}"))
    };
    let mut udp = Vec::with_capacity(driver.udp.len());
    for &addr in &driver.udp {
        let socket = bind_udp(addr).map_err(|e| bind_err("UDP", addr, e))?;
        socket.set_nonblocking(true)?;
        udp.push((socket.local_addr()?, socket));
    }
    let mut tcp = Vec::with_capacity(driver.tcp.len() + driver.tls.len());
    for (addrs, transport, what) in [
        (&driver.tcp, Transport::Tcp, "TCP"),
        (&driver.tls, Transport::Tls, "TLS"),
    ] {
        for &addr in addrs {
            let listener =
                std::net::TcpListener::bind(addr).map_err(|e| bind_err(what, addr, e))?;
            listener.set_nonblocking(true)?;
            tcp.push((listener.local_addr()?, transport, listener));
        }
    }

    let addrs_of = |transport| {
        tcp.iter()
            .filter(|(_, t, _)| *t == transport)
            .map(|(a, _, _)| *a)
            .collect::<Vec<_>>()
    };
    let udp_addrs: Vec<SocketAddr> = udp.iter().map(|(a, _)| *a).collect();
    let (tcp_addrs, tls_addrs) = (addrs_of(Transport::Tcp), addrs_of(Transport::Tls));
    for addr in udp_addrs.iter().chain(&tcp_addrs).chain(&tls_addrs) {
        config
            .listen_addresses
            .extend(self_addresses(*addr, &driver.relay_ips));
    }
    config.listen_addresses.sort_unstable();
    config.listen_addresses.dedup();

    let mut nonce_secret = [0u8; 32];
    SystemRandom::new()
        .fill(&mut nonce_secret)
        .map_err(|_| TurnError::Io("the system random generator failed".into()))?;
    let unix_now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    let stats = Arc::new(Mutex::new(ServerStats::default()));
    let (alternates, alternates_rx) = mpsc::unbounded_channel();
    let setup = Setup {
        config,
        credentials,
        policy,
        relays,
        nonce_secret,
        unix_now,
        parked,
        udp,
        tcp,
        tls_acceptor,
        max_connections: driver.max_connections,
        stats: Arc::clone(&stats),
        alternates: alternates_rx,
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("quietroom-turn".into())
        .spawn(move || run(setup, ready_tx, stop_rx))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(_) => {
            return Err(match thread.join() {
                Ok(Err(e)) => e,
                _ => TurnError::Io("the TURN server thread failed to start".into()),
            });
        }
    }
    Ok(Running {
        udp: udp_addrs,
        tcp: tcp_addrs,
        tls: tls_addrs,
        stats,
        alternates,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// The addresses that reach the server through a bound `addr`: itself, and for a wildcard
/// IP also loopback and the relay IPs of the same family on the same port.
fn self_addresses(addr: SocketAddr, relay_ips: &[IpAddr]) -> Vec<SocketAddr> {
    let mut out = vec![addr];
    if addr.ip().is_unspecified() {
        let loopback = if addr.is_ipv4() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        };
        out.push(SocketAddr::new(loopback, addr.port()));
        out.extend(
            relay_ips
                .iter()
                .filter(|ip| ip.is_ipv4() == addr.is_ipv4())
                .map(|ip| SocketAddr::new(*ip, addr.port())),
        );
    }
    out
}

/// Everything the server thread starts from.
struct Setup {
    config: ServerConfig,
    credentials: Box<dyn CredentialStore>,
    policy: Box<dyn PeerPolicy>,
    relays: BindingRelays,
    nonce_secret: [u8; 32],
    unix_now: u64,
    parked: Parked,
    udp: Vec<(SocketAddr, std::net::UdpSocket)>,
    tcp: Vec<(SocketAddr, Transport, std::net::TcpListener)>,
    tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    max_connections: usize,
    stats: Arc<Mutex<ServerStats>>,
    alternates: mpsc::UnboundedReceiver<Vec<SocketAddr>>,
}

/// A relay socket and its receive task.
struct RelaySocket {
    socket: Rc<UdpSocket>,
    task: JoinHandle<()>,
}

/// The state every task of the server thread shares.
pub(crate) struct Shared {
    core: RefCell<Server>,
    /// The receive buffer of every UDP socket: filled by `try_recv_from` and consumed by the
    /// core before the next `.await`.
    rx_buf: RefCell<Box<[u8]>>,
    listeners: HashMap<SocketAddr, Rc<UdpSocket>>,
    relays: RefCell<HashMap<SocketAddr, RelaySocket>>,
    streams: RefCell<HashMap<FiveTuple, mpsc::Sender<Vec<u8>>>>,
    parked: Parked,
    stats: Arc<Mutex<ServerStats>>,
    connections: Cell<usize>,
    max_connections: usize,
    tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
}

impl Shared {
    /// Moves the core's queued transmits into `out` and acts on its events (relay sockets
    /// opened and closed, logs), then publishes the counters.
    fn flush(self: &Rc<Self>, out: &mut Vec<Transmit>) {
        {
            let mut core = self.core.borrow_mut();
            while let Some(transmit) = core.poll_transmit() {
                out.push(transmit);
            }
        }
        loop {
            let event = self.core.borrow_mut().poll_event();
            match event {
                Some(event) => self.on_event(event),
                None => break,
            }
        }
        let stats = self.core.borrow().stats();
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = stats;
    }

    fn on_event(self: &Rc<Self>, event: TurnEvent) {
        match event {
            TurnEvent::AllocationCreated {
                tuple,
                relays,
                username,
            } => {
                tracing::info!(
                    transport = ?tuple.transport,
                    client = %tuple.client,
                    server = %tuple.server,
                    relays = ?relays,
                    "allocation created"
                );
                tracing::debug!(client = %tuple.client, username = %username, "allocation user");
                for relay in relays {
                    self.open_relay(relay);
                }
            }
            TurnEvent::AllocationEnded {
                tuple,
                relays,
                reason,
            } => {
                tracing::info!(
                    transport = ?tuple.transport,
                    client = %tuple.client,
                    server = %tuple.server,
                    relays = ?relays,
                    reason = ?reason,
                    "allocation ended"
                );
                let mut open = self.relays.borrow_mut();
                for relay in relays {
                    if let Some(socket) = open.remove(&relay) {
                        socket.task.abort();
                    }
                }
            }
            TurnEvent::PeerRefused { tuple, peer } => {
                tracing::warn!(
                    transport = ?tuple.transport,
                    client = %tuple.client,
                    peer = %peer,
                    "peer refused by policy"
                );
            }
        }
    }

    /// Starts receiving on the relay socket the provider bound for `relay`.
    fn open_relay(self: &Rc<Self>, relay: SocketAddr) {
        let Some(std_socket) = self.parked.take(relay) else {
            tracing::warn!(relay = %relay, "no bound socket for a relay address");
            return;
        };
        let socket = match UdpSocket::from_std(std_socket) {
            Ok(socket) => Rc::new(socket),
            Err(e) => {
                tracing::warn!(relay = %relay, error = %e, "relay socket unusable");
                return;
            }
        };
        let task = tokio::task::spawn_local(udp::receive(
            Rc::clone(self),
            Rc::clone(&socket),
            udp::Role::Relay(relay),
        ));
        if let Some(old) = self
            .relays
            .borrow_mut()
            .insert(relay, RelaySocket { socket, task })
        {
            old.task.abort();
        }
    }

    /// Sends every transmit in `out` (emptying it) and gives the buffers back to the core.
    async fn send(&self, out: &mut Vec<Transmit>) {
        for Transmit { destination, data } in out.drain(..) {
            let data = match destination {
                Destination::Client(tuple) if tuple.transport == Transport::Udp => {
                    if let Some(socket) = self.listeners.get(&tuple.server) {
                        udp::send(socket, tuple.client, &data).await;
                    }
                    data
                }
                Destination::Client(tuple) => {
                    let streams = self.streams.borrow();
                    match streams.get(&tuple).map(|tx| tx.try_send(data)) {
                        // The connection's task writes it and recycles the buffer.
                        Some(Ok(())) => continue,
                        // Closed, or its write queue is full: dropped, as UDP would.
                        Some(Err(e)) => e.into_inner(),
                        None => continue,
                    }
                }
                Destination::Peer { relay, peer, .. } => {
                    // DONT-FRAGMENT cannot be set on a std socket without platform code; RFC
                    // 8656 §12.2 lets an IPv4 relay send anyway.
                    let socket = self
                        .relays
                        .borrow()
                        .get(&relay)
                        .map(|r| Rc::clone(&r.socket));
                    if let Some(socket) = socket {
                        udp::send(&socket, peer, &data).await;
                    }
                    data
                }
            };
            self.core.borrow_mut().recycle(data);
        }
    }

    /// Flushes and sends: what every task does after handing input to the core.
    async fn flush_and_send(self: &Rc<Self>, out: &mut Vec<Transmit>) {
        self.flush(out);
        if !out.is_empty() {
            self.send(out).await;
        }
    }
}

/// The server thread: builds the runtime, starts the tasks, reports readiness and runs until
/// told to stop.
fn run(
    setup: Setup,
    ready: std::sync::mpsc::SyncSender<Result<(), TurnError>>,
    stop: oneshot::Receiver<()>,
) -> Result<(), TurnError> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let e = TurnError::Io(format!("starting the tokio runtime: {e}"));
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    let local = LocalSet::new();
    local.block_on(&runtime, serve(setup, ready, stop))
}

async fn serve(
    setup: Setup,
    ready: std::sync::mpsc::SyncSender<Result<(), TurnError>>,
    stop: oneshot::Receiver<()>,
) -> Result<(), TurnError> {
    let Setup {
        config,
        credentials,
        policy,
        relays,
        nonce_secret,
        unix_now,
        parked,
        udp,
        tcp,
        tls_acceptor,
        max_connections,
        stats,
        mut alternates,
    } = setup;

    let mut udp_sockets = Vec::with_capacity(udp.len());
    let mut tcp_listeners = Vec::with_capacity(tcp.len());
    let converted = (|| -> std::io::Result<()> {
        for (addr, socket) in udp {
            udp_sockets.push((addr, Rc::new(UdpSocket::from_std(socket)?)));
        }
        for (addr, transport, listener) in tcp {
            tcp_listeners.push((
                addr,
                transport,
                tokio::net::TcpListener::from_std(listener)?,
            ));
        }
        Ok(())
    })();
    if let Err(e) = converted {
        let e = TurnError::Io(format!("registering the listeners: {e}"));
        let _ = ready.send(Err(e.clone()));
        return Err(e);
    }

    let realm = config.realm.clone();
    let core = Server::new(
        config,
        credentials,
        policy,
        Box::new(relays),
        nonce_secret,
        Instant::now(),
        unix_now,
    );
    let shared = Rc::new(Shared {
        core: RefCell::new(core),
        rx_buf: RefCell::new(vec![0u8; udp::RECV_BUF].into_boxed_slice()),
        listeners: udp_sockets
            .iter()
            .map(|(addr, socket)| (*addr, Rc::clone(socket)))
            .collect(),
        relays: RefCell::new(HashMap::new()),
        streams: RefCell::new(HashMap::new()),
        parked,
        stats,
        connections: Cell::new(0),
        max_connections,
        tls_acceptor,
    });

    let mut tasks = Vec::new();
    for (addr, socket) in udp_sockets {
        tracing::info!(transport = "udp", addr = %addr, realm = %realm, "TURN listening");
        tasks.push(tokio::task::spawn_local(udp::receive(
            Rc::clone(&shared),
            socket,
            udp::Role::Listener(addr),
        )));
    }
    for (addr, transport, listener) in tcp_listeners {
        let name = if transport == Transport::Tls {
            "tls"
        } else {
            "tcp"
        };
        tracing::info!(transport = name, addr = %addr, realm = %realm, "TURN listening");
        tasks.push(tokio::task::spawn_local(stream::accept(
            Rc::clone(&shared),
            listener,
            transport,
        )));
    }
    tasks.push(tokio::task::spawn_local(timer(Rc::clone(&shared))));
    let control = Rc::clone(&shared);
    tasks.push(tokio::task::spawn_local(async move {
        while let Some(list) = alternates.recv().await {
            tracing::info!(alternates = ?list, "alternate servers set");
            control.core.borrow_mut().set_alternate_servers(list);
        }
    }));
    let _ = ready.send(Ok(()));

    // Stop when asked, or when the handle is gone.
    let _ = stop.await;

    for task in &tasks {
        task.abort();
    }
    let mut out = Vec::new();
    shared.core.borrow_mut().shutdown();
    shared.flush_and_send(&mut out).await;
    // Closing the write queues lets each connection flush and close.
    shared.streams.borrow_mut().clear();
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while shared.connections.get() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (_, relay) in shared.relays.borrow_mut().drain() {
        relay.task.abort();
    }
    let stats = shared.core.borrow().stats();
    tracing::info!(
        relayed_to_peers = stats.relayed_to_peers,
        relayed_to_clients = stats.relayed_to_clients,
        relay_dropped = stats.relay_dropped,
        malformed = stats.malformed,
        "TURN server stopped"
    );
    Ok(())
}

/// Calls [`Server::handle_timeout`] whenever the core asks, and at least every second.
async fn timer(shared: Rc<Shared>) {
    let mut out = Vec::new();
    loop {
        let now = Instant::now();
        let cap = now + MAX_TIMER_SLEEP;
        let at = shared
            .core
            .borrow()
            .poll_timeout()
            .map_or(cap, |t| t.min(cap));
        tokio::time::sleep_until(at.into()).await;
        shared.core.borrow_mut().handle_timeout(Instant::now());
        shared.flush_and_send(&mut out).await;
    }
}

/// Socket buffer size asked for on every UDP socket (listeners and relays), as coturn does:
/// the kernel's default (about 200 KiB) overflows under bursts from many allocations, and a
/// full buffer drops datagrams before the server sees them. The kernel caps the request at
/// `net.core.rmem_max`/`wmem_max`.
const UDP_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Binds a UDP socket on `addr` with large send and receive buffers.
pub(crate) fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer still works.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}
