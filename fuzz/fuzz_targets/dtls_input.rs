//! Feeds arbitrary datagrams to a DTLS-SRTP server engine: it must never panic.
//!
//! Input layout: a sequence of chunks, each `len_hi len_lo` (big-endian u16, taken modulo
//! 2048) followed by up to that many bytes of datagram. Between chunks, simulated time advances
//! by the low bits of the length prefix in milliseconds and due timers are fired.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use quietroom_srtp::dtls::{DtlsCertificate, DtlsConfig, DtlsEngine, RtcDtlsEngine};

fn certificate() -> Option<&'static DtlsCertificate> {
    static CERT: OnceLock<Option<DtlsCertificate>> = OnceLock::new();
    CERT.get_or_init(|| DtlsCertificate::generate().ok())
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(cert) = certificate() else { return };
    // Pin the server to its own fingerprint: any client certificate the fuzzer could forge
    // would not match it anyway.
    let config = DtlsConfig::new(cert.clone(), cert.fingerprint());
    let start = Instant::now();
    let Ok(mut engine) = RtcDtlsEngine::server(config, start) else {
        return;
    };
    let mut now = start;
    let mut rest = data;
    while let [hi, lo, tail @ ..] = rest {
        let prefix = u16::from_be_bytes([*hi, *lo]);
        let len = usize::from(prefix % 2048).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        rest = next;
        now += Duration::from_millis(u64::from(prefix & 0x3FF));
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            let _ = engine.handle_timeout(now);
        }
        let _ = engine.handle_input(now, datagram);
        while engine.poll_transmit().is_some() {}
        while engine.poll_event().is_some() {}
    }
});
