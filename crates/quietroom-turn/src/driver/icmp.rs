//! ICMP errors on relay sockets (Linux): with `IP_RECVERR` / `IPV6_RECVERR` set, the kernel
//! queues each ICMP error a relay socket's datagram drew on the socket's error queue, with
//! the ICMP type, code and MTU and the address the datagram went to. The receive task reads
//! the queue (`MSG_ERRQUEUE`) and hands each error to the core's
//! [`Server::handle_icmp`](crate::server::Server::handle_icmp).
//!
//! Elsewhere the errors are not read and [`enable`] does nothing.

use std::net::SocketAddr;

use crate::server::IcmpError;

/// Errors read from one socket per call at most, so a flood cannot hold the thread.
#[cfg(target_os = "linux")]
const MAX_PER_CALL: usize = 64;

/// Asks the kernel to queue ICMP errors on `socket` (a relay socket of `v6`'s family).
#[cfg(target_os = "linux")]
pub(super) fn enable(socket: &std::net::UdpSocket, v6: bool) -> std::io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    let result = if v6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true)
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true)
    };
    result.map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
pub(super) fn enable(_socket: &std::net::UdpSocket, _v6: bool) -> std::io::Result<()> {
    Ok(())
}

/// Reads the ICMP errors queued on `socket`, up to [`MAX_PER_CALL`], as (the peer the
/// datagram was sent to, the error). Errors of local origin (no ICMP) are skipped. Ends with
/// `Err(WouldBlock)` once the queue is empty, as tokio's `try_io` expects to clear the
/// readiness; another error ends it too.
#[cfg(target_os = "linux")]
pub(super) fn read_queue(
    socket: &impl std::os::fd::AsRawFd,
    out: &mut Vec<(SocketAddr, IcmpError)>,
) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::libc;
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};

    /// `SO_EE_ORIGIN_ICMP` and `SO_EE_ORIGIN_ICMP6` (linux/errqueue.h).
    const ORIGIN_ICMP: u8 = 2;
    const ORIGIN_ICMP6: u8 = 3;

    let fd = socket.as_raw_fd();
    let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
    for _ in 0..MAX_PER_CALL {
        // The queued datagram itself is not wanted, only where it went and why it failed.
        let mut payload = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut payload)];
        let msg = match recvmsg::<SockaddrStorage>(
            fd,
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(msg) => msg,
            Err(Errno::EAGAIN) => return Err(std::io::ErrorKind::WouldBlock.into()),
            Err(e) => return Err(e.into()),
        };
        let peer = msg.address.and_then(|a: SockaddrStorage| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::from(*v4))
                .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6)))
        });
        let Ok(cmsgs) = msg.cmsgs() else {
            continue;
        };
        for c in cmsgs {
            let (err, v6) = match c {
                ControlMessageOwned::Ipv4RecvErr(err, _) => (err, false),
                ControlMessageOwned::Ipv6RecvErr(err, _) => (err, true),
                _ => continue,
            };
            if err.ee_origin != ORIGIN_ICMP && err.ee_origin != ORIGIN_ICMP6 {
                continue;
            }
            if let Some(peer) = peer {
                out.push((
                    peer,
                    IcmpError {
                        v6,
                        icmp_type: err.ee_type,
                        code: err.ee_code,
                        mtu: err.ee_info,
                    },
                ));
            }
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub(super) fn read_queue<T>(
    _socket: &T,
    _out: &mut Vec<(SocketAddr, IcmpError)>,
) -> std::io::Result<()> {
    Err(std::io::ErrorKind::WouldBlock.into())
}
