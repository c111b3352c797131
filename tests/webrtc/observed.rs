//! What the router hands a subscriber, read from the plaintext it asks the crypto to protect:
//! a [`MediaCrypto`] that records each video packet's sequence number, timestamp, whether it
//! starts a keyframe and its VP8 or VP9 picture numbers, then protects it with the real SRTP
//! session. The seam the router is written against is what lets the test see its output
//! before encryption.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use quietroom::router::codec::{Codec, inspect};
use quietroom::router::rtp::RtpHeader;
use quietroom::srtp::{Error, MediaCrypto, SrtpSession};

use super::{OUT_RTX_SSRC, OUT_SSRC};

/// One video packet as the router sent it to the subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SentVideo {
    /// The sequence number the subscriber saw (for RTX: the original's, from the OSN).
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
    pub(crate) picture_id: Option<u16>,
    pub(crate) tl0_pic_idx: Option<u8>,
    /// The temporal layer (TID), when the descriptor has one.
    pub(crate) temporal_id: Option<u8>,
    /// VP9's spatial layer (SID), when the descriptor has layer indices.
    pub(crate) spatial_id: Option<u8>,
    /// The RTP marker (for VP9 SVC: the end of the picture as the subscriber gets it).
    pub(crate) marker: bool,
    /// It starts a keyframe (the router's own detection, `codec::inspect`).
    pub(crate) keyframe: bool,
    /// The RTP payload (for RTX, without the OSN), to read with an independent depacketizer.
    pub(crate) payload: Payload,
    /// A retransmission over RTX.
    pub(crate) rtx: bool,
    /// The publisher's packet it was made from: an index into the [`InputLog`] (the latest
    /// with the same payload; for a padding-only filler, the packet the router had just
    /// decrypted when it protected it).
    pub(crate) input: Option<usize>,
}

/// An RTP payload, shown by its length only.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Payload(pub(crate) Vec<u8>);

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// The shared log of [`SentVideo`].
pub(crate) type SentLog = Arc<Mutex<Vec<SentVideo>>>;

/// One packet a publisher sent the router, as decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InputVideo {
    /// Its SSRC; for a resend, the RTX stream's until [`Sfu::inputs_resolved`] names the
    /// media stream it repairs.
    ///
    /// [`Sfu::inputs_resolved`]: super::Sfu::inputs_resolved
    pub(crate) ssrc: u32,
    /// A resend over RTX (its numbers read after the OSN).
    pub(crate) rtx: bool,
    /// Its sequence number (for a resend, the original's: the OSN).
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
    pub(crate) picture_id: Option<u16>,
    pub(crate) tl0_pic_idx: Option<u8>,
    /// VP9's spatial layer (SID), and the RTP marker as the publisher set it.
    pub(crate) spatial_id: Option<u8>,
    pub(crate) marker: bool,
    /// Its payload's [`fingerprint`], to find the packet a copy was made from.
    pub(crate) fingerprint: u64,
}

/// A hash of an RTP `payload` and its length, with the fields the router rewrites (VP8/VP9
/// picture ID and TL0PICIDX) read as zero: the same for a publisher's packet and every copy
/// or resend the router made of it.
fn fingerprint(codec: Codec, payload: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut bytes = payload.to_vec();
    if let (_, Some(fields)) = inspect(codec, payload) {
        fields.write(&mut bytes, 0, 0);
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The shared log of [`InputVideo`], in the order the router decrypted them.
pub(crate) type InputLog = Arc<Mutex<Vec<InputVideo>>>;

/// Keyframe traffic, to tell why a layer switch did not happen: when the router asked a
/// publisher for a keyframe (PLI or FIR) of an SSRC, and when a keyframe of an SSRC arrived.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeyframeEvent {
    Requested(u32),
    Arrived(u32),
}

/// The shared log of [`KeyframeEvent`]s.
pub(crate) type KeyframeLog = Arc<Mutex<Vec<(Instant, KeyframeEvent)>>>;

/// An SRTP session that logs the video packets it protects on [`OUT_SSRC`] and
/// [`OUT_RTX_SSRC`], and the keyframe requests it protects and keyframes it unprotects.
pub(crate) struct Observed {
    session: SrtpSession,
    /// The video codec, to read payloads with.
    codec: Codec,
    /// The RTX payload type the participant's offer gave, to tell its resends.
    rtx_pt: Option<u8>,
    log: SentLog,
    inputs: InputLog,
    keyframes: KeyframeLog,
}

impl Observed {
    pub(crate) fn new(
        session: SrtpSession,
        codec: Codec,
        rtx_pt: Option<u8>,
        log: SentLog,
        inputs: InputLog,
        keyframes: KeyframeLog,
    ) -> Self {
        Observed {
            session,
            codec,
            rtx_pt,
            log,
            inputs,
            keyframes,
        }
    }

    fn keyframe_event(&self, event: KeyframeEvent) {
        self.keyframes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Instant::now(), event));
    }

    fn record(&self, packet: &[u8]) {
        let Ok(header) = RtpHeader::parse(packet) else {
            return;
        };
        let rtx = header.ssrc == OUT_RTX_SSRC;
        if header.ssrc != OUT_SSRC && !rtx {
            return;
        }
        let mut payload = header.payload(packet);
        let mut sequence = header.sequence;
        if rtx {
            let Some((osn, rest)) = payload.split_first_chunk::<2>() else {
                return; // RTX padding
            };
            sequence = u16::from_be_bytes(*osn);
            payload = rest;
        }
        let (keyframe, fields) = inspect(self.codec, payload);
        // The publisher's packet with the same payload, the latest (the router may send a
        // packet decrypted earlier: a catch-up after a switch, a resend); else (a padding-only
        // filler) the packet the router had just decrypted.
        let input = {
            let inputs = self.inputs.lock().unwrap_or_else(PoisonError::into_inner);
            let print = fingerprint(self.codec, payload);
            inputs
                .iter()
                .rposition(|i| !payload.is_empty() && i.fingerprint == print)
                .or(inputs.len().checked_sub(1))
        };
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(SentVideo {
                sequence,
                timestamp: header.timestamp,
                picture_id: fields.and_then(|f| f.picture_id()),
                tl0_pic_idx: fields.and_then(|f| f.tl0_pic_idx()),
                temporal_id: fields.and_then(|f| f.temporal_id()),
                spatial_id: fields.and_then(|f| f.spatial_id()),
                marker: header.marker,
                keyframe,
                payload: Payload(payload.to_vec()),
                rtx,
                input,
            });
    }
}

impl MediaCrypto for Observed {
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.record(&buf[..len]);
        self.session.protect_rtp(buf, len)
    }

    fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.session.unprotect_rtp(buf)?;
        if let Ok(header) = RtpHeader::parse(&buf[..n]) {
            let rtx = Some(header.payload_type) == self.rtx_pt;
            let payload = header.payload(&buf[..n]);
            // A resend's payload starts with the original's sequence number (OSN).
            let (sequence, payload) = match payload.split_first_chunk::<2>() {
                Some((osn, rest)) if rtx => (u16::from_be_bytes(*osn), rest),
                _ if rtx => (header.sequence, &[][..]),
                _ => (header.sequence, payload),
            };
            let (keyframe, fields) = inspect(self.codec, payload);
            if keyframe && !rtx {
                self.keyframe_event(KeyframeEvent::Arrived(header.ssrc));
            }
            self.inputs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(InputVideo {
                    ssrc: header.ssrc,
                    rtx,
                    sequence,
                    timestamp: header.timestamp,
                    picture_id: fields.and_then(|f| f.picture_id()),
                    tl0_pic_idx: fields.and_then(|f| f.tl0_pic_idx()),
                    spatial_id: fields.and_then(|f| f.spatial_id()),
                    marker: header.marker,
                    fingerprint: fingerprint(self.codec, payload),
                });
        }
        Ok(n)
    }

    fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        // PLI (RFC 4585) and FIR (RFC 5104) in the compound packet: media SSRC at offset 8
        // (FIR: the SSRC of its first FCI entry, at 12).
        let mut rest = &buf[..len];
        while let [b0, pt, l0, l1, ..] = *rest {
            let size = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
            let (fmt, media_at) = (b0 & 0x1F, if b0 & 0x1F == 4 { 12 } else { 8 });
            if pt == 206
                && (fmt == 1 || fmt == 4)
                && let Some(ssrc) = rest.get(media_at..media_at + 4)
            {
                let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
                self.keyframe_event(KeyframeEvent::Requested(ssrc));
            }
            rest = rest.get(size..).unwrap_or_default();
        }
        self.session.protect_rtcp(buf, len)
    }

    fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.session.unprotect_rtcp(buf)
    }

    fn rtp_overhead(&self) -> usize {
        self.session.rtp_overhead()
    }

    fn rtcp_overhead(&self) -> usize {
        self.session.rtcp_overhead()
    }
}

/// What [`check_picture_numbering`] found.
#[derive(Debug, Default)]
pub(crate) struct Numbering {
    /// Media packets checked.
    pub(crate) packets: usize,
    /// Steps from one picture to the next between consecutive packets, and how many of them
    /// were of exactly one picture ID.
    pub(crate) pictures: usize,
    pub(crate) steps_of_one: usize,
    /// Of those steps, the ones between pictures of one publisher stream, compared with the
    /// publisher's own step.
    pub(crate) same_stream: usize,
    /// Pairs of consecutive packets whose TL0PICIDX was compared.
    pub(crate) with_tl0_pic_idx: usize,
    /// Retransmissions compared with their original.
    pub(crate) resends: usize,
}

/// The largest step between consecutive pictures accepted across a layer switch: a
/// publisher's encoder may skip a picture ID on one simulcast layer (libwebrtc numbers the
/// pictures of all its layers from one counter, and a layer can drop a frame the others
/// encode).
const MAX_STEP: u16 = 3;

/// Checks the VP8 or VP9 picture numbering a subscriber was sent: in sequence-number order,
/// packets of one picture (one timestamp) share a picture ID and TL0PICIDX; the next picture
/// of the same publisher stream has the TL0PICIDX step the publisher's had, and across a
/// layer switch the same or the next. Between two pictures made from the same publisher
/// stream, the picture ID steps by exactly what the publisher's did: for VP8 less the
/// pictures of that stream the router left out in between (temporal layers), which give up
/// their numbers; for VP9 (`codec`) with them, since VP9 references pictures by picture ID
/// difference. A picture the publisher skipped (or its uplink lost) still shows. Across a
/// layer switch the step is 1 to [`MAX_STEP`]. Each retransmission carries the numbers of
/// its original. Panics with the first violation.
pub(super) fn check_picture_numbering(
    log: &SentLog,
    inputs: &[InputVideo],
    codec: Codec,
) -> Numbering {
    let gaps_kept = codec == Codec::Vp9;
    let sent = log.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let media = in_sequence_order(sent.iter().filter(|p| !p.rtx));
    let mut numbering = Numbering {
        packets: media.len(),
        ..Numbering::default()
    };
    for w in media.windows(2) {
        let ((s0, a), (s1, b)) = (w[0], w[1]);
        if s1 != s0 + 1 {
            continue;
        }
        let same_picture = a.timestamp == b.timestamp;
        if let (Some(id0), Some(id1)) = (a.picture_id, b.picture_id) {
            if same_picture {
                assert_eq!(id1, id0, "one picture, two picture IDs: {a:?} {b:?}");
            } else {
                numbering.pictures += 1;
                let step = id1.wrapping_sub(id0) & 0x7FFF;
                match source_step(inputs, a.input, b.input) {
                    Some((source, left_out)) => {
                        let left_out = if gaps_kept { 0 } else { left_out };
                        assert_eq!(
                            usize::from(step),
                            usize::from(source).saturating_sub(left_out),
                            "picture ID steps by {step} where the publisher's stepped by \
                             {source} with {left_out} pictures left out: {a:?} then {b:?}\n{}",
                            around(inputs, &media, a, b)
                        );
                        numbering.same_stream += 1;
                    }
                    None => assert!(
                        (1..=MAX_STEP).contains(&step),
                        "picture ID jumps by {step}: {a:?} then {b:?}"
                    ),
                }
                numbering.steps_of_one += usize::from(step == 1);
            }
        }
        if let (Some(t0), Some(t1)) = (a.tl0_pic_idx, b.tl0_pic_idx) {
            numbering.with_tl0_pic_idx += 1;
            // Within one publisher stream, the step is the publisher's own: the router
            // never leaves out a base-layer picture (an encoder under load may skip one).
            // Across a layer switch, the same or the next.
            match source_tl0_step(inputs, a.input, b.input) {
                Some(source) => assert_eq!(
                    t1.wrapping_sub(t0),
                    source,
                    "TL0PICIDX steps by {} where the publisher's stepped by {source}: \
                     {a:?} then {b:?}",
                    t1.wrapping_sub(t0)
                ),
                None => {
                    let steps = if same_picture {
                        &[t0][..]
                    } else {
                        &[t0, t0.wrapping_add(1)][..]
                    };
                    assert!(steps.contains(&t1), "TL0PICIDX jumps: {a:?} then {b:?}");
                }
            }
        }
    }
    for r in sent.iter().filter(|p| p.rtx) {
        if let Some(original) = sent.iter().find(|p| !p.rtx && p.sequence == r.sequence) {
            assert_eq!(
                (r.timestamp, r.picture_id, r.tl0_pic_idx),
                (
                    original.timestamp,
                    original.picture_id,
                    original.tl0_pic_idx
                ),
                "a retransmission differs from its original"
            );
            numbering.resends += 1;
        }
    }
    numbering
}

/// Of `packets` (sent after `earlier`), those of frames begun after every frame in `earlier`
/// and after the frame in flight at their start (the first packet's): where a change the
/// router makes at a frame start shows. A late packet of an earlier frame (a resend of what
/// the uplink lost) goes by the decision its frame got, so it is not among them.
pub(crate) fn frames_begun_after<'a>(
    earlier: &[&SentVideo],
    packets: &[&'a SentVideo],
) -> Vec<&'a SentVideo> {
    let Some(first) = packets.first() else {
        return Vec::new();
    };
    // The newest timestamp of the frames begun by then.
    let begun = earlier.iter().chain([first]).map(|p| p.timestamp);
    let newest = newest(begun).unwrap_or(first.timestamp);
    packets
        .iter()
        .copied()
        .filter(|p| after(p.timestamp, newest))
        .collect()
}

/// Whether RTP timestamp `a` is after `b` (modulo 2^32).
pub(crate) fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The newest of `timestamps` (modulo 2^32).
pub(crate) fn newest(timestamps: impl IntoIterator<Item = u32>) -> Option<u32> {
    timestamps
        .into_iter()
        .reduce(|a, t| if after(t, a) { t } else { a })
}

/// `packets`, in the order they were sent, sorted by sequence number, each number unwrapped
/// relative to the one sent before it.
pub(crate) fn in_sequence_order<'a>(
    packets: impl Iterator<Item = &'a SentVideo>,
) -> Vec<(i64, &'a SentVideo)> {
    let mut last: Option<i64> = None;
    let mut sorted: Vec<(i64, &SentVideo)> = packets
        .map(|p| {
            let ext = last.map_or(i64::from(p.sequence), |l| {
                l + i64::from(p.sequence.wrapping_sub(l as u16) as i16)
            });
            last = Some(ext);
            (ext, p)
        })
        .collect();
    sorted.sort_by_key(|(ext, _)| *ext);
    sorted
}

/// What a failed numbering check shows: the publisher's packets and the packets sent
/// around the two packets `a` and `b` it compared.
pub(crate) fn around(
    inputs: &[InputVideo],
    media: &[(i64, &SentVideo)],
    a: &SentVideo,
    b: &SentVideo,
) -> String {
    let mut out = String::from("inputs around:\n");
    let (i, j) = (a.input.unwrap_or(0), b.input.unwrap_or(0));
    let from = i.min(j).saturating_sub(12);
    for (k, input) in inputs
        .iter()
        .enumerate()
        .skip(from)
        .take(i.max(j) + 4 - from)
    {
        out += &format!("  #{k} {input:?}\n");
    }
    out += "sent around (in sequence order):\n";
    let at = media
        .iter()
        .position(|(_, p)| p.sequence == a.sequence)
        .unwrap_or(0);
    for (_, p) in &media[at.saturating_sub(12)..(at + 6).min(media.len())] {
        out += &format!("  {p:?}\n");
    }
    out
}

/// For two packets sent from the publisher's packets `from` and `to` (indices into
/// `inputs`) of the same stream: how far the publisher's TL0PICIDX stepped. `None` when they
/// come from different streams or carry none.
fn source_tl0_step(inputs: &[InputVideo], from: Option<usize>, to: Option<usize>) -> Option<u8> {
    let (a, b) = (inputs.get(from?)?, inputs.get(to?)?);
    if a.ssrc != b.ssrc {
        return None;
    }
    Some(b.tl0_pic_idx?.wrapping_sub(a.tl0_pic_idx?))
}

/// For two pictures sent from the publisher's packets `from` and `to` (indices into
/// `inputs`) of the same stream: how far the publisher's picture ID stepped, and how many
/// pictures of that stream numbered between them the router received before the second, as
/// media or as a resend (and so left out: with resends coming late, a picture left out may
/// arrive before the first). `None` when they come from different streams (a layer switch)
/// or carry no picture ID.
fn source_step(
    inputs: &[InputVideo],
    from: Option<usize>,
    to: Option<usize>,
) -> Option<(u16, usize)> {
    let (i, j) = (from?, to?);
    let (a, b) = (inputs.get(i)?, inputs.get(j)?);
    let (id0, id1) = (a.picture_id?, b.picture_id?);
    if a.ssrc != b.ssrc || i >= j {
        return None;
    }
    let mut between: Vec<u16> = inputs[..j]
        .iter()
        .filter(|v| v.ssrc == a.ssrc)
        .filter_map(|v| v.picture_id)
        .filter(|&id| {
            let after = id.wrapping_sub(id0) & 0x7FFF;
            after != 0 && after < (id1.wrapping_sub(id0) & 0x7FFF)
        })
        .collect();
    between.sort_unstable();
    between.dedup();
    Some((id1.wrapping_sub(id0) & 0x7FFF, between.len()))
}
