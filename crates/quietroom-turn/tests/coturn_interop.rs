//! Interop with coturn's test client: `turnutils_uclient` (with `turnutils_peer` echoing as
//! the peer) against our server, started in-process with [`driver::spawn`] on 127.0.0.1.
//!
//! Covered: UDP with channels, UDP with Send indications, TCP to the server (channels),
//! client-to-client relaying (channels; ignored for now, see the test), long-term credentials among several users (and a
//! wrong password being refused), and shared-secret ("TURN REST API") credentials. The two
//! credential cases use Send indications so that they test authentication alone. Each case
//! checks uclient's own accounting (every message echoed, nothing lost) and the server's
//! relay counters.
//!
//! Needs coturn's tools on PATH (`bash scripts/peers.sh`). Without them the tests print
//! SKIPPED and pass, unless `QUIETROOM_REQUIRE_PEERS=1`, which makes that a failure.
//!
//! Every spawned process is killed on every path (a drop guard) and waited for with a
//! deadline. Tests may run in parallel: listeners bind port 0, peers take a port the OS
//! just handed out, relay port ranges are distinct per test.

#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use quietroom_turn::auth::{CredentialStore, SharedSecretCredentials, StaticCredentials};
use quietroom_turn::driver::{self, DriverConfig, Running};
use quietroom_turn::policy::{Cidr, DefaultPeerPolicy};
use quietroom_turn::server::{ServerConfig, ServerStats};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const REALM: &str = "interop.quietroom";
const SECRET: &str = "north-wind-shared-secret";
/// How long one uclient run may take before it is killed (a passing run takes ~5 s).
const UCLIENT_DEADLINE: Duration = Duration::from_secs(60);

// ---- finding the tools ----

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Paths of `turnutils_uclient` and `turnutils_peer`, or `None` (after printing why) when the
/// test should be skipped.
fn coturn_tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    match (on_path("turnutils_uclient"), on_path("turnutils_peer")) {
        (Some(uclient), Some(peer)) => Some((uclient, peer)),
        _ => {
            if std::env::var("QUIETROOM_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!(
                    "{test}: coturn's turnutils_uclient/turnutils_peer are not on PATH and \
                     QUIETROOM_REQUIRE_PEERS=1; run `bash scripts/peers.sh` to install them"
                );
            }
            eprintln!(
                "SKIPPED {test}: coturn's turnutils_uclient/turnutils_peer not on PATH \
                 (run `bash scripts/peers.sh`; set QUIETROOM_REQUIRE_PEERS=1 to make this fail)"
            );
            None
        }
    }
}

// ---- child processes ----

/// A child process that is killed and reaped when dropped, whatever happened before.
struct Guarded {
    child: Child,
    what: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    pipe.map(|mut pipe| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

impl Guarded {
    fn spawn(mut command: Command, what: &str) -> Guarded {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Guarded {
            child,
            what: what.to_owned(),
            stdout,
            stderr,
        }
    }

    /// Waits until the process exits or `deadline` passes (then kills it). Returns the exit
    /// status (`None` when it had to be killed) and its stdout followed by its stderr.
    fn wait_output(mut self, deadline: Duration) -> (Option<ExitStatus>, String) {
        let until = Instant::now() + deadline;
        let mut status = None;
        while Instant::now() < until {
            match self.child.try_wait() {
                Ok(Some(exit)) => {
                    status = Some(exit);
                    break;
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("waiting for {}: {e}", self.what),
            }
        }
        if status.is_none() {
            eprintln!("{} overran {deadline:?}; killing it", self.what);
            self.kill();
        }
        let mut output = String::new();
        for handle in [self.stdout.take(), self.stderr.take()]
            .into_iter()
            .flatten()
        {
            output.push_str(&handle.join().unwrap_or_default());
        }
        (status, output)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    socket.local_addr().unwrap().port()
}

/// Starts `turnutils_peer` on a free port and waits until it echoes.
fn start_peer(peer_tool: &PathBuf) -> (Guarded, u16) {
    for _attempt in 0..5 {
        let port = free_udp_port();
        let mut command = Command::new(peer_tool);
        command.args(["-L", "127.0.0.1", "-p", &port.to_string()]);
        let peer = Guarded::spawn(command, "turnutils_peer");
        if echoes(port) {
            return (peer, port);
        }
        // Port taken in between, or the peer is slow: try another port.
        drop(peer);
    }
    panic!("turnutils_peer never echoed");
}

/// Whether something echoes datagrams sent to 127.0.0.1:`port` (within ~3 s).
fn echoes(port: u16) -> bool {
    let probe = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..30 {
        let _ = probe.send_to(b"quietroom-probe", (LOCALHOST, port));
        if let Ok((n, from)) = probe.recv_from(&mut buf) {
            if from.port() == port && &buf[..n] == b"quietroom-probe" {
                return true;
            }
        }
    }
    false
}

// ---- our server ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Listen {
    Udp,
    Tcp,
}

enum Creds {
    /// `user=u:p` style static users.
    Static(&'static [(&'static str, &'static str)]),
    /// Static users tried first, then shared-secret credentials on [`SECRET`].
    StaticThenSecret,
}

fn start_server(listen: Listen, creds: Creds, relay_ports: RangeInclusive<u16>) -> Running {
    let config = ServerConfig::new(REALM);
    let credentials: Box<dyn CredentialStore> = match creds {
        Creds::Static(users) => {
            let mut store = StaticCredentials::new(REALM);
            for (user, pass) in users {
                store.add(user, pass);
            }
            Box::new(store)
        }
        Creds::StaticThenSecret => {
            let mut users = StaticCredentials::new(REALM);
            users.add("u", "p");
            Box::new((users, SharedSecretCredentials::new(SECRET.as_bytes())))
        }
    };
    let mut policy = DefaultPeerPolicy::new();
    policy.allow("127.0.0.1/32".parse::<Cidr>().unwrap());
    let mut driver_config = DriverConfig::new(vec![LOCALHOST]);
    let any = SocketAddr::new(LOCALHOST, 0);
    match listen {
        Listen::Udp => driver_config.udp = vec![any],
        Listen::Tcp => driver_config.tcp = vec![any],
    }
    driver_config.relay_ports = relay_ports;
    driver::spawn(config, credentials, Box::new(policy), driver_config)
        .expect("driver::spawn on 127.0.0.1")
}

fn server_port(running: &Running, listen: Listen) -> u16 {
    let addrs = match listen {
        Listen::Udp => running.udp_addrs(),
        Listen::Tcp => running.tcp_addrs(),
    };
    let addr = *addrs.first().expect("the server listens");
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0, "udp_addrs/tcp_addrs report the bound port");
    addr.port()
}

// ---- uclient's report ----

#[derive(Debug, PartialEq, Eq)]
struct Report {
    sent: u64,
    received: u64,
    lost: u64,
}

/// The number after the last occurrence of `key` in `text`.
fn last_number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.rfind(key)? + key.len();
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// uclient's totals: the last `tot_send_msgs=`/`tot_recv_msgs=` (the final summary line
/// comes last) and `Total lost packets N`.
fn parse_report(output: &str) -> Option<Report> {
    Some(Report {
        sent: last_number_after(output, "tot_send_msgs=")?,
        received: last_number_after(output, "tot_recv_msgs=")?,
        lost: last_number_after(output, "Total lost packets")?,
    })
}

#[test]
fn report_parsing() {
    let output = "\
0: : Total connect time is 0
4: : start_mclient: msz=2, tot_send_msgs=40, tot_recv_msgs=39, tot_send_bytes ~ 48000
5: : start_mclient: tot_send_msgs=80, tot_recv_msgs=80
5: : start_mclient: tot_send_bytes ~ 96000, tot_recv_bytes ~ 96000
5: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
";
    assert_eq!(
        parse_report(output),
        Some(Report {
            sent: 80,
            received: 80,
            lost: 0
        })
    );
    assert_eq!(
        parse_report("0: : ERROR: Cannot complete Allocation\n"),
        None
    );
}

// ---- one interop run ----

struct Case {
    name: &'static str,
    listen: Listen,
    creds: Creds,
    /// Credential flags for uclient (`-u u -w p`, `-W secret -u name`).
    auth: &'static [&'static str],
    /// Extra uclient flags (`-s`, `-t`, `-y`).
    flags: &'static [&'static str],
    /// Relay ports for this test only (tests run in parallel).
    relay_ports: RangeInclusive<u16>,
}

const SESSIONS: &str = "2";
const MESSAGES: u64 = 40;

fn uclient_command(
    uclient: &PathBuf,
    auth: &[&str],
    flags: &[&str],
    server: u16,
    peer: u16,
) -> Command {
    let mut command = Command::new(uclient);
    command.args(auth).args(flags).args([
        "-e",
        "127.0.0.1",
        "-r",
        &peer.to_string(),
        "-l",
        "1200",
        "-m",
        SESSIONS,
        "-n",
        &MESSAGES.to_string(),
        "-z",
        "5",
        "-p",
        &server.to_string(),
        "127.0.0.1",
    ]);
    command
}

fn describe(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// What one uclient run against our server gave.
struct Outcome {
    /// uclient's exit status; `None` when it overran [`UCLIENT_DEADLINE`] and was killed.
    status: Option<ExitStatus>,
    output: String,
    stats: ServerStats,
    /// The failure context: the command line, exit status, server counters and output.
    context: String,
}

/// Starts a peer and our server for `case`, runs uclient against them, and shuts both
/// down. `None` when the test is skipped (no coturn tools).
fn run(case: Case) -> Option<Outcome> {
    let (uclient, peer_tool) = coturn_tools(case.name)?;
    let (peer, peer_port) = start_peer(&peer_tool);
    let running = start_server(case.listen, case.creds, case.relay_ports.clone());
    let port = server_port(&running, case.listen);

    let command = uclient_command(&uclient, case.auth, case.flags, port, peer_port);
    let line = describe(&command);
    let (status, output) =
        Guarded::spawn(command, "turnutils_uclient").wait_output(UCLIENT_DEADLINE);
    let stats = running.stats();
    drop(peer);
    running.shutdown().expect("clean shutdown");

    let mut context = format!(
        "{}: `{line}` exited with {status:?}\nserver stats: {stats:?}\n--- uclient output ---\n{output}",
        case.name
    );
    if output.contains("channel bind: error 400") {
        context.push_str(
            "--- hint ---\ncoturn's uclient picks random channel numbers in 0x4000-0x7FFF (the \
             RFC 5766 range, which coturn's server accepts); a server that accepts only RFC \
             8656's 0x4000-0x4FFF answers 400 to most of them.\n",
        );
    }
    Some(Outcome {
        status,
        output,
        stats,
        context,
    })
}

/// Runs uclient against our server for `case` and checks that every message went through
/// the relay and back.
fn interop(case: Case) {
    let name = case.name;
    let Some(Outcome {
        status,
        output,
        stats,
        context,
    }) = run(case)
    else {
        return;
    };
    let status = status.unwrap_or_else(|| panic!("uclient timed out\n{context}"));
    assert!(status.success(), "uclient failed\n{context}");
    let report =
        parse_report(&output).unwrap_or_else(|| panic!("no totals in uclient output\n{context}"));
    let expected = MESSAGES * SESSIONS.parse::<u64>().unwrap();
    assert!(report.sent > 0, "nothing sent\n{context}");
    assert_eq!(report.sent, expected, "{context}");
    assert_eq!(
        report.received, report.sent,
        "not every message came back\n{context}"
    );
    assert_eq!(report.lost, 0, "uclient counted lost packets\n{context}");
    // Every message crossed the relay twice: client→peer, and its echo peer→client.
    assert!(
        stats.relayed_to_peers >= report.sent,
        "relayed_to_peers < messages sent\n{context}"
    );
    assert!(
        stats.relayed_to_clients >= report.received,
        "relayed_to_clients < echoes received\n{context}"
    );
    eprintln!("{name}: {report:?}, server {stats:?}");
}

const USER_P: &[(&str, &str)] = &[("u", "p")];

#[test]
fn udp_channels() {
    interop(Case {
        name: "udp_channels",
        listen: Listen::Udp,
        creds: Creds::Static(USER_P),
        auth: &["-u", "u", "-w", "p"],
        flags: &[],
        relay_ports: 24_000..=24_099,
    });
}

#[test]
fn udp_send_indications() {
    interop(Case {
        name: "udp_send_indications",
        listen: Listen::Udp,
        creds: Creds::Static(USER_P),
        auth: &["-u", "u", "-w", "p"],
        flags: &["-s"],
        relay_ports: 24_100..=24_199,
    });
}

#[test]
fn tcp_to_server() {
    interop(Case {
        name: "tcp_to_server",
        listen: Listen::Tcp,
        creds: Creds::Static(USER_P),
        auth: &["-u", "u", "-w", "p"],
        flags: &["-t"],
        relay_ports: 24_200..=24_299,
    });
}

#[test]
fn long_term_credentials_among_several_users() {
    interop(Case {
        name: "long_term_credentials_among_several_users",
        listen: Listen::Udp,
        creds: Creds::Static(&[
            ("u", "p"),
            ("alice", "correct horse battery staple"),
            ("bob", "s3cr3t!"),
        ]),
        auth: &["-u", "alice", "-w", "correct horse battery staple"],
        flags: &["-s"],
        relay_ports: 24_300..=24_399,
    });
}

#[test]
fn shared_secret_credentials() {
    interop(Case {
        name: "shared_secret_credentials",
        listen: Listen::Udp,
        creds: Creds::StaticThenSecret,
        // uclient mints "<expiry>:carol" and base64(HMAC-SHA1(secret, username)).
        auth: &["-W", SECRET, "-u", "carol"],
        flags: &["-s"],
        relay_ports: 24_400..=24_499,
    });
}

/// Two uclient sessions relaying to each other's relay addresses (`-y`), as two WebRTC
/// clients both restricted to relay candidates on the same TURN server do. coturn relays
/// this; our server currently refuses any peer that is one of its own relay addresses (403
/// to CreatePermission/ChannelBind, and the send paths drop such datagrams), so this is
/// ignored until that is decided. Run it with `--ignored`.
#[test]
#[ignore = "the server refuses its own relay addresses as peers (403); coturn allows relay-to-relay"]
fn client_to_client() {
    interop(Case {
        name: "client_to_client",
        listen: Listen::Udp,
        creds: Creds::Static(USER_P),
        auth: &["-u", "u", "-w", "p"],
        flags: &["-y"],
        relay_ports: 24_500..=24_599,
    });
}

/// A wrong password gets no allocation: uclient gives up, and nothing is relayed.
#[test]
fn wrong_password_is_refused() {
    let Some(Outcome {
        status,
        output,
        stats,
        context,
    }) = run(Case {
        name: "wrong_password_is_refused",
        listen: Listen::Udp,
        creds: Creds::Static(USER_P),
        auth: &["-u", "u", "-w", "not-p"],
        flags: &[],
        relay_ports: 24_600..=24_699,
    })
    else {
        return;
    };
    let status = status.unwrap_or_else(|| panic!("uclient timed out\n{context}"));
    assert!(
        !status.success(),
        "a wrong password was accepted\n{context}"
    );
    let received = last_number_after(&output, "tot_recv_msgs=").unwrap_or(0);
    assert_eq!(received, 0, "{context}");
    assert_eq!(stats.relayed_to_peers, 0, "{context}");
    assert_eq!(stats.relayed_to_clients, 0, "{context}");
}

/// A server being drained sends new allocations to another one (300 Try Alternate with
/// ALTERNATE-SERVER, set at run time through [`Running::set_alternate_servers`]); uclient
/// follows the redirect and relays through the alternate with nothing lost.
#[test]
fn redirect_to_an_alternate_server() {
    let name = "redirect_to_an_alternate_server";
    let Some((uclient, peer_tool)) = coturn_tools(name) else {
        return;
    };
    let (peer, peer_port) = start_peer(&peer_tool);
    let alternate = start_server(Listen::Udp, Creds::Static(USER_P), 24_700..=24_799);
    let draining = start_server(Listen::Udp, Creds::Static(USER_P), 24_800..=24_899);
    let to = SocketAddr::new(LOCALHOST, server_port(&alternate, Listen::Udp));
    draining.set_alternate_servers(vec![to]).unwrap();
    // The list reaches the server thread through a channel: give it a moment.
    thread::sleep(Duration::from_millis(100));

    let port = server_port(&draining, Listen::Udp);
    let command = uclient_command(&uclient, &["-u", "u", "-w", "p"], &[], port, peer_port);
    let line = describe(&command);
    let (status, output) =
        Guarded::spawn(command, "turnutils_uclient").wait_output(UCLIENT_DEADLINE);
    let (drained, served) = (draining.stats(), alternate.stats());
    drop(peer);
    draining.shutdown().expect("clean shutdown");
    alternate.shutdown().expect("clean shutdown");
    let context = format!(
        "{name}: `{line}` exited with {status:?}\ndraining server: {drained:?}\nalternate: \
         {served:?}\n--- uclient output ---\n{output}"
    );
    let status = status.unwrap_or_else(|| panic!("uclient timed out\n{context}"));
    assert!(status.success(), "uclient failed\n{context}");
    assert!(output.contains("300"), "uclient was redirected\n{context}");
    let report =
        parse_report(&output).unwrap_or_else(|| panic!("no totals in uclient output\n{context}"));
    let expected = MESSAGES * SESSIONS.parse::<u64>().unwrap();
    assert_eq!(
        (report.sent, report.received, report.lost),
        (expected, expected, 0),
        "{context}"
    );
    // uclient asks once, then uses the alternate for every allocation.
    assert!(drained.redirected >= 1, "{context}");
    assert_eq!(
        drained.relayed_to_peers + drained.relayed_to_clients,
        0,
        "{context}"
    );
    assert!(
        served.relayed_to_peers >= expected && served.relayed_to_clients >= expected,
        "{context}"
    );
    eprintln!("{name}: {report:?}, draining {drained:?}, alternate {served:?}");
}
