//! A TURN relay and STUN server (RFC 8656 / RFC 8489) on UDP, TCP and TLS.
//!
//! ```text
//! cargo run --release --example turn_server -- --listen 127.0.0.1:3478 --realm example.org \
//!     --user alice:correct-horse --auth-secret SECRET [--tls-listen ADDR --cert F --key F] \
//!     [--allow-peer CIDR]... [--deny-peer CIDR]... [--alternate-server ADDR]...
//! ```
//!
//! Runs until Ctrl-C, then shuts down gracefully (every allocation ended, relay sockets
//! closed) and prints the final counters. `RUST_LOG` overrides `-v`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::process::ExitCode;

use clap::Parser;
use quietroom::turn::TurnError;
use quietroom::turn::auth::{CredentialStore, SharedSecretCredentials, StaticCredentials};
use quietroom::turn::driver::{self, DriverConfig};
use quietroom::turn::policy::{Cidr, DefaultPeerPolicy};
use quietroom::turn::server::ServerConfig;

/// A TURN relay and STUN server (quietroom-turn).
///
/// Relays to loopback, private, link-local and other internal addresses are refused unless
/// allowed with --allow-peer. Passwords given here are visible to other local users (ps);
/// prefer --auth-secret with short-lived credentials minted by your application.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// UDP and TCP listening address (repeatable), e.g. 0.0.0.0:3478.
    #[arg(long = "listen", value_name = "ADDR")]
    listen: Vec<SocketAddr>,

    /// TLS listening address (repeatable), e.g. 0.0.0.0:5349; needs --cert and --key.
    #[arg(long = "tls-listen", value_name = "ADDR")]
    tls_listen: Vec<SocketAddr>,

    /// PEM certificate chain for TLS (leaf first).
    #[arg(long, value_name = "FILE")]
    cert: Option<std::path::PathBuf>,

    /// PEM private key for TLS (PKCS#8, SEC1 or RSA).
    #[arg(long, value_name = "FILE")]
    key: Option<std::path::PathBuf>,

    /// The realm of the long-term credentials.
    #[arg(long, default_value = "quietroom")]
    realm: String,

    /// A static user, NAME:PASSWORD (repeatable).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,

    /// Accept time-limited credentials minted from this shared secret (coturn's
    /// use-auth-secret, the "TURN REST API").
    #[arg(long, value_name = "SECRET")]
    auth_secret: Option<String>,

    /// Allow relaying to peers in this range even if the built-in rules refuse it (repeatable).
    #[arg(long = "allow-peer", value_name = "CIDR")]
    allow_peer: Vec<Cidr>,

    /// Refuse relaying to peers in this range (repeatable; overrides --allow-peer).
    #[arg(long = "deny-peer", value_name = "CIDR")]
    deny_peer: Vec<Cidr>,

    /// Relay IP (repeatable: one IPv4 and one IPv6). Default: the listening IPs.
    #[arg(long = "relay-ip", value_name = "IP")]
    relay_ip: Vec<IpAddr>,

    /// Relay port range LO-HI.
    #[arg(long, value_name = "LO-HI", default_value = "49152-65535", value_parser = parse_ports)]
    relay_ports: RangeInclusive<u16>,

    /// Most allocations at once.
    #[arg(long, value_name = "N")]
    max_allocations: Option<usize>,

    /// Most allocations one user holds at once.
    #[arg(long, value_name = "N")]
    max_allocations_per_user: Option<usize>,

    /// Relay bandwidth per allocation, each way, in bytes per second.
    #[arg(long, value_name = "BYTES_PER_SEC")]
    bandwidth: Option<u64>,

    /// Send new allocations to this server instead (300 Try Alternate; repeatable: one IPv4
    /// and one IPv6 address). Existing allocations are still served.
    #[arg(long = "alternate-server", value_name = "ADDR")]
    alternate_server: Vec<SocketAddr>,

    /// ALTERNATE-DOMAIN for clients redirected from a TLS listener: the name on the
    /// alternate server's certificate.
    #[arg(long, value_name = "NAME")]
    alternate_domain: Option<String>,

    /// More logging (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn parse_ports(s: &str) -> Result<RangeInclusive<u16>, String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?}: expected LO-HI, e.g. 49152-65535"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port number (1-65535)"))
    };
    let (lo, hi) = (port(lo)?, port(hi)?);
    if lo == 0 || lo > hi {
        return Err(format!("{s:?}: need 1 <= LO <= HI"));
    }
    Ok(lo..=hi)
}

fn credentials(args: &Args) -> Result<Box<dyn CredentialStore>, TurnError> {
    let mut users = StaticCredentials::new(&args.realm);
    for spec in &args.users {
        let (name, password) = StaticCredentials::parse_user(spec)?;
        users.add(&name, &password);
    }
    let shared = args
        .auth_secret
        .as_deref()
        .map(|s| SharedSecretCredentials::new(s.as_bytes()));
    match (users.is_empty(), shared) {
        (false, Some(shared)) => Ok(Box::new((users, shared))),
        (false, None) => Ok(Box::new(users)),
        (true, Some(shared)) => Ok(Box::new(shared)),
        (true, None) => Err(TurnError::Config {
            what: "credentials",
            reason: "give --user NAME:PASSWORD and/or --auth-secret SECRET".into(),
        }),
    }
}

fn driver_config(args: &Args) -> Result<DriverConfig, TurnError> {
    if args.listen.is_empty() && args.tls_listen.is_empty() {
        return Err(TurnError::Config {
            what: "listeners",
            reason: "give --listen ADDR and/or --tls-listen ADDR".into(),
        });
    }
    let mut relay_ips = args.relay_ip.clone();
    if relay_ips.is_empty() {
        for addr in args.listen.iter().chain(&args.tls_listen) {
            if addr.ip().is_unspecified() {
                return Err(TurnError::Config {
                    what: "relay IP",
                    reason: format!(
                        "listening on the wildcard {addr}: give --relay-ip with the address \
                         clients and peers reach"
                    ),
                });
            }
            if !relay_ips.contains(&addr.ip()) {
                relay_ips.push(addr.ip());
            }
        }
    }
    let mut config = DriverConfig::new(relay_ips);
    config.udp = args.listen.clone();
    config.tcp = args.listen.clone();
    config.tls = args.tls_listen.clone();
    config.relay_ports = args.relay_ports.clone();
    if !args.tls_listen.is_empty() {
        let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
            return Err(TurnError::Config {
                what: "TLS",
                reason: "--tls-listen needs --cert FILE and --key FILE (PEM)".into(),
            });
        };
        let read = |path: &std::path::Path, what: &str| {
            std::fs::read(path)
                .map_err(|e| TurnError::Tls(format!("reading the {what} {}: {e}", path.display())))
        };
        let tls = driver::tls_config_from_pem(&read(cert, "certificate")?, &read(key, "key")?)?;
        config.tls_config = Some(tls);
    }
    Ok(config)
}

fn run(args: &Args) -> Result<(), TurnError> {
    let mut config = ServerConfig::new(args.realm.clone());
    if let Some(n) = args.max_allocations {
        config.max_allocations = n;
    }
    if let Some(n) = args.max_allocations_per_user {
        config.max_allocations_per_user = n;
    }
    config.bandwidth_per_allocation = args.bandwidth;
    config.alternate_servers = args.alternate_server.clone();
    config.alternate_domain = args.alternate_domain.clone();
    let mut policy = DefaultPeerPolicy::new();
    for cidr in &args.allow_peer {
        policy.allow(*cidr);
    }
    for cidr in &args.deny_peer {
        policy.deny(*cidr);
    }
    let driver_config = driver_config(args)?;
    let running = driver::spawn(config, credentials(args)?, Box::new(policy), driver_config)?;
    for addr in running.udp_addrs() {
        println!("listening on udp://{addr}");
    }
    for addr in running.tcp_addrs() {
        println!("listening on tcp://{addr}");
    }
    for addr in running.tls_addrs() {
        println!("listening on tls://{addr}");
    }
    println!("realm {:?}; press Ctrl-C to stop", args.realm);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokio::signal::ctrl_c())?;
    println!("stopping…");
    let stats = running.stats();
    running.shutdown()?;
    println!(
        "relayed to peers: {}, relayed to clients: {}, relay dropped: {}, rate limited: {}, \
         amplification dropped: {}, malformed: {}",
        stats.relayed_to_peers,
        stats.relayed_to_clients,
        stats.relay_dropped,
        stats.rate_limited,
        stats.amplification_dropped,
        stats.malformed
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let level = match args.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turn_server: {e}");
            ExitCode::FAILURE
        }
    }
}
