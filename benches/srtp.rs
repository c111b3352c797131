//! SRTP protect/unprotect of 1200-byte payloads, side by side in one run:
//! quietroom-srtp, rtc-srtp 0.21 (sans-IO reference), webrtc-srtp 0.17 (async reference),
//! and raw `ring` AES-128-GCM `seal_in_place_separate_tag` / `open_in_place` on the same
//! bytes (the limit for GCM).
//!
//! `cargo bench --bench srtp`, then `python3 scripts/bench_ratios.py srtp` prints the ratios
//! recorded in docs/performance.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use quietroom::srtp::{MasterKey, Profile, SrtpConfig, SrtpContext};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha1::Sha1;

const PAYLOAD: usize = 1200;
const HEADER: usize = 12;
const SSRC: u32 = 0x1234_5678;
/// Packets protected (untimed) per batch before the timed unprotect of that batch.
const BATCH: u64 = 512;

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..PAYLOAD).map(|i| i as u8));
    p
}

fn set_seq(buf: &mut [u8], seq: u16) {
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
}

fn master(p: Profile) -> (Vec<u8>, Vec<u8>) {
    (
        (0..p.key_len() as u8).collect(),
        (100..100 + p.salt_len() as u8).collect(),
    )
}

fn ours(p: Profile) -> SrtpContext {
    let (k, s) = master(p);
    SrtpContext::new(&MasterKey::new(p, &k, &s).unwrap(), &SrtpConfig::default()).unwrap()
}

fn rtc_ctx(p: Profile) -> rtc_srtp::context::Context {
    use rtc_srtp::protection_profile::ProtectionProfile as R;
    let rp = match p {
        Profile::AeadAes128Gcm => R::AeadAes128Gcm,
        _ => R::Aes128CmHmacSha1_80,
    };
    let (k, s) = master(p);
    let provider = rtc_crypto::default_provider().unwrap();
    rtc_srtp::context::Context::new(&k, &s, rp, None, None, provider.crypto()).unwrap()
}

fn webrtc_ctx(p: Profile) -> webrtc_srtp::context::Context {
    use webrtc_srtp::protection_profile::ProtectionProfile as W;
    let wp = match p {
        Profile::AeadAes128Gcm => W::AeadAes128Gcm,
        _ => W::Aes128CmHmacSha1_80,
    };
    let (k, s) = master(p);
    webrtc_srtp::context::Context::new(&k, &s, wp, None, None).unwrap()
}

fn ring_key() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7; 16]).unwrap())
}

fn nonce(seq: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..12].copy_from_slice(&seq.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn protect(c: &mut Criterion) {
    for (label, p) in [
        ("gcm128", Profile::AeadAes128Gcm),
        ("cm80", Profile::Aes128CmHmacSha1_80),
    ] {
        let mut g = c.benchmark_group(format!("protect_1200/{label}"));
        g.throughput(Throughput::Elements(1));
        let plain = rtp(0);

        let mut ctx = ours(p);
        let mut buf = vec![0u8; plain.len() + 16];
        let mut seq = 0u16;
        g.bench_function("quietroom", |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                buf[..plain.len()].copy_from_slice(&plain);
                set_seq(&mut buf, seq);
                black_box(ctx.protect_rtp(&mut buf, plain.len()).unwrap())
            })
        });

        let mut rtc = rtc_ctx(p);
        let mut pkt = plain.clone();
        g.bench_function("rtc-srtp", |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                set_seq(&mut pkt, seq);
                black_box(rtc.encrypt_rtp(&pkt).unwrap())
            })
        });

        let mut webrtc = webrtc_ctx(p);
        g.bench_function("webrtc-srtp", |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                set_seq(&mut pkt, seq);
                black_box(webrtc.encrypt_rtp(&pkt).unwrap())
            })
        });

        if p == Profile::Aes128CmHmacSha1_80 {
            // The floor for any sequential AES-CM + HMAC-SHA1 on these primitives: the raw
            // RustCrypto AES-128-CTR keystream and an HMAC-SHA1 (key schedule precomputed)
            // over the same bytes, with no SRTP logic at all.
            let mac = <Hmac<Sha1> as Mac>::new_from_slice(&[9; 20]).unwrap();
            let aes = aes::Aes128::new(&[7; 16].into());
            let mut n = 0u128;
            g.bench_function("ctr+hmac-bound", |b| {
                b.iter(|| {
                    n += 1;
                    buf[..plain.len()].copy_from_slice(&plain);
                    let core = ctr::CtrCore::<aes::Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(
                        aes.clone(),
                        &(n << 16).to_be_bytes().into(),
                    );
                    let mut ctr = ctr::Ctr128BE::<aes::Aes128>::from_core(core);
                    ctr.apply_keystream(&mut buf[HEADER..plain.len()]);
                    let mut m = mac.clone();
                    m.update(&buf[..plain.len()]);
                    m.update(&[0; 4]);
                    let tag = m.finalize().into_bytes();
                    buf[plain.len()..plain.len() + 10].copy_from_slice(&tag[..10]);
                    black_box(&buf);
                })
            });
        }

        if p == Profile::AeadAes128Gcm {
            let key = ring_key();
            let mut n = 0u64;
            g.bench_function("ring-seal", |b| {
                b.iter(|| {
                    n += 1;
                    buf[..plain.len()].copy_from_slice(&plain);
                    let (header, rest) = buf.split_at_mut(HEADER);
                    let tag = key
                        .seal_in_place_separate_tag(
                            nonce(n),
                            Aad::from(&*header),
                            &mut rest[..PAYLOAD],
                        )
                        .unwrap();
                    rest[PAYLOAD..PAYLOAD + 16].copy_from_slice(tag.as_ref());
                    black_box(&buf);
                })
            });
        }
        g.finish();
    }
}

/// Times only `open` over each batch; `produce` fills the batch (untimed) with packets whose
/// sequence numbers keep increasing across batches, so replay windows accept every one.
fn batched(
    iters: u64,
    mut produce: impl FnMut(&mut Vec<u8>, u16) -> usize,
    mut open: impl FnMut(&mut [u8]),
) -> Duration {
    let mut wire = vec![Vec::with_capacity(HEADER + PAYLOAD + 16); BATCH as usize];
    let mut lens = vec![0; BATCH as usize];
    let mut seq = 0u16;
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BATCH.min(iters - done) as usize;
        for (w, len) in wire.iter_mut().zip(lens.iter_mut()).take(n) {
            seq = seq.wrapping_add(1);
            *len = produce(w, seq);
        }
        let start = Instant::now();
        for (w, &len) in wire.iter_mut().zip(&lens).take(n) {
            open(&mut w[..len]);
        }
        total += start.elapsed();
        done += n as u64;
    }
    total
}

/// A batch producer using our protect, which the differential tests show is byte-identical
/// to both references.
fn our_packets(p: Profile) -> impl FnMut(&mut Vec<u8>, u16) -> usize {
    let mut tx = ours(p);
    let plain = rtp(0);
    move |w, seq| {
        w.clear();
        w.extend_from_slice(&plain);
        w.resize(plain.len() + 16, 0);
        set_seq(w, seq);
        tx.protect_rtp(w, plain.len()).unwrap()
    }
}

fn unprotect(c: &mut Criterion) {
    for (label, p) in [
        ("gcm128", Profile::AeadAes128Gcm),
        ("cm80", Profile::Aes128CmHmacSha1_80),
    ] {
        let mut g = c.benchmark_group(format!("unprotect_1200/{label}"));
        g.throughput(Throughput::Elements(1));

        g.bench_function("quietroom", |b| {
            b.iter_custom(|iters| {
                let mut rx = ours(p);
                batched(iters, our_packets(p), |w| {
                    black_box(rx.unprotect_rtp(w).unwrap());
                })
            })
        });
        g.bench_function("rtc-srtp", |b| {
            b.iter_custom(|iters| {
                let mut rx = rtc_ctx(p);
                batched(iters, our_packets(p), |w| {
                    black_box(rx.decrypt_rtp(w).unwrap());
                })
            })
        });
        g.bench_function("webrtc-srtp", |b| {
            b.iter_custom(|iters| {
                let mut rx = webrtc_ctx(p);
                batched(iters, our_packets(p), |w| {
                    black_box(webrtc_decrypt(&mut rx, w));
                })
            })
        });
        if p == Profile::AeadAes128Gcm {
            g.bench_function("ring-open", |b| {
                let key = ring_key();
                let plain = rtp(0);
                b.iter_custom(|iters| {
                    let seal = |w: &mut Vec<u8>, seq: u16| {
                        w.clear();
                        w.extend_from_slice(&plain);
                        let (header, rest) = w.split_at_mut(HEADER);
                        let tag = key
                            .seal_in_place_separate_tag(
                                nonce(u64::from(seq)),
                                Aad::from(&*header),
                                rest,
                            )
                            .unwrap();
                        w.extend_from_slice(tag.as_ref());
                        w.len()
                    };
                    let mut seq = 0u16;
                    batched(iters, seal, |w| {
                        seq = seq.wrapping_add(1);
                        let (header, rest) = w.split_at_mut(HEADER);
                        black_box(
                            key.open_in_place(nonce(u64::from(seq)), Aad::from(&*header), rest)
                                .unwrap()
                                .len(),
                        );
                    })
                })
            });
        }
        g.finish();
    }
}

fn webrtc_decrypt(rx: &mut webrtc_srtp::context::Context, w: &[u8]) -> usize {
    rx.decrypt_rtp(w).unwrap().len()
}

/// The primitives under the two transforms, on the bytes one 1200-byte-payload packet
/// authenticates: why GCM runs on ring and AES-CM/HMAC-SHA1 on RustCrypto, and why AES-CM and
/// SHA-1 cannot be overlapped block by block through `sha1::compress`.
fn primitives(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitives_1216");
    g.throughput(Throughput::Elements(1));
    let mut buf = vec![0x5a_u8; 1216];

    let ring_mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &[1; 20]);
    g.bench_function("hmac-sha1/ring", |b| {
        b.iter(|| black_box(ring::hmac::sign(&ring_mac, black_box(&buf))))
    });
    let mac = <Hmac<Sha1> as Mac>::new_from_slice(&[1; 20]).unwrap();
    g.bench_function("hmac-sha1/rustcrypto", |b| {
        b.iter(|| {
            let mut m = mac.clone();
            m.update(black_box(&buf));
            black_box(m.finalize().into_bytes())
        })
    });
    let aes = aes::Aes128::new(&[7; 16].into());
    g.bench_function("aes128-ctr/rustcrypto", |b| {
        b.iter(|| {
            let core = ctr::CtrCore::<aes::Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(
                aes.clone(),
                &[0; 16].into(),
            );
            ctr::Ctr128BE::<aes::Aes128>::from_core(core).apply_keystream(&mut buf);
        })
    });
    let blocks: Vec<_> = buf
        .chunks(64)
        .map(|c| *sha1::digest::generic_array::GenericArray::from_slice(c))
        .collect();
    g.bench_function("sha1-compress/19-blocks-one-call", |b| {
        b.iter(|| {
            let mut state = [
                0x6745_2301_u32,
                0xEFCD_AB89,
                0x98BA_DCFE,
                0x1032_5476,
                0xC3D2_E1F0,
            ];
            sha1::compress(&mut state, black_box(&blocks));
            black_box(state)
        })
    });
    g.bench_function("sha1-compress/19-calls", |b| {
        b.iter(|| {
            let mut state = [
                0x6745_2301_u32,
                0xEFCD_AB89,
                0x98BA_DCFE,
                0x1032_5476,
                0xC3D2_E1F0,
            ];
            for block in black_box(&blocks) {
                sha1::compress(&mut state, std::slice::from_ref(block));
            }
            black_box(state)
        })
    });
    let key = ring_key();
    let mut n = 0u64;
    g.bench_function("aes128-gcm-seal/ring", |b| {
        b.iter(|| {
            n += 1;
            black_box(
                key.seal_in_place_separate_tag(nonce(n), Aad::empty(), &mut buf)
                    .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = protect, unprotect, primitives
}
criterion_main!(benches);
