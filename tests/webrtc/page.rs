//! The browser side of the Chromium tests: starting `node` with a page script
//! (`tests/peers/*.js`), and what `chromium_room.js` reports of its peer connections.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{PeerProcess, peer, root};

/// One Chromium at a time in a test binary: two encoding 720p video at once are more than
/// two cores keep up with. Hold the guard for the test's length.
pub(crate) fn one_chromium_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static CHROMIUM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    CHROMIUM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts `tests/peers/SCRIPT` under `node`, driving Debian's `chromium` (or `CHROMIUM`)
/// through `playwright-core` in `.peers/node`, with `env` added. `None` (the test is skipped
/// with a note) when one of them is missing, unless `QUIETROOM_REQUIRE_PEERS=1`.
pub(crate) fn chromium(script: &str, env: &[(&str, &str)]) -> Option<PeerProcess> {
    let chromium = peer(
        "Chromium",
        PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or("/usr/bin/chromium".into())),
        &["--version"],
    )?;
    let playwright = root().join(".peers/node/node_modules/playwright-core");
    let require = format!("require({:?})", playwright.display().to_string());
    let node = peer("Chromium", PathBuf::from("node"), &["-e", &require])?;
    let mut command = Command::new(node);
    command
        .arg(root().join("tests/peers").join(script))
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", &chromium)
        .envs(env.iter().copied());
    Some(PeerProcess::spawn(command))
}

/// What `chromium_room.js` reported last.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// The subscriber's frames decoded, and the width of the last.
    pub(crate) decoded: u64,
    pub(crate) width: u64,
    /// NACKs the subscriber sent, and retransmissions it received.
    pub(crate) nacks: u64,
    pub(crate) retransmitted: u64,
    /// Keyframe requests the subscriber sent (PLI, FIR), and keyframes it decoded.
    pub(crate) plis: u64,
    pub(crate) firs: u64,
    pub(crate) keyframes: u64,
    /// Per RID, the width Chromium encodes it at now (0: not sent).
    pub(crate) sent: Vec<(String, u64)>,
    /// RIDs whose encoding is turned off.
    pub(crate) inactive: Vec<String>,
    /// The scalability mode of the publisher's one encoding and its packets sent, when it
    /// has no RID (SVC), as "L3T3_KEY 1234 packets".
    pub(crate) mode: String,
    /// Chromium's receiver asking for a keyframe after 3 s without a decodable frame, from
    /// its log: (the last RTP timestamp it had, the last it decoded).
    pub(crate) stalls: Vec<(u32, u32)>,
}

impl Page {
    pub(crate) fn from(v: &Value) -> Page {
        let count = |name: &str| v[name].as_u64().unwrap_or(0);
        Page {
            decoded: count("decoded"),
            width: count("width"),
            nacks: count("nacks"),
            retransmitted: count("retransmitted"),
            plis: count("plis"),
            firs: count("firs"),
            keyframes: count("keyframes"),
            mode: v["mode"].as_str().unwrap_or_default().to_owned(),
            stalls: v["stalls"]
                .as_array()
                .map(|a| {
                    let ts = |s: &Value, name: &str| s[name].as_u64().unwrap_or(0) as u32;
                    a.iter()
                        .map(|s| (ts(s, "last"), ts(s, "decoded")))
                        .collect()
                })
                .unwrap_or_default(),
            sent: v["sent"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(rid, w)| (rid.clone(), w.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default(),
            inactive: v["active"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, on)| on.as_bool() == Some(false))
                        .map(|(rid, _)| rid.clone())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The newest report `peer` has sent since the last call, if any.
    pub(crate) fn update(&mut self, peer: &PeerProcess) {
        while let Ok(line) = peer.lines.try_recv() {
            *self = Page::from(&serde_json::from_str(&line).unwrap());
        }
    }

    /// The width Chromium encodes `rid` at now (0: not sent).
    pub(crate) fn sent_width(&self, rid: &str) -> u64 {
        self.sent
            .iter()
            .find(|(r, _)| r == rid)
            .map_or(0, |(_, w)| *w)
    }

    /// Whether the subscriber is at an upper layer, decoding, `waited` after it was allowed
    /// everything with `decoded_before` frames decoded: 30 more frames of `f`, or of `h`
    /// after 10 s. Chromium turns its upper encodings on as its estimate (from the router's
    /// transport-wide CC feedback) grows, `f` within about a second on an idle machine; on a
    /// busy one it may hold `f` off.
    pub(crate) fn at_upper_layer(&self, decoded_before: u64, waited: Duration) -> bool {
        let upper = [self.sent_width("h"), self.sent_width("f")];
        self.width > self.sent_width("q")
            && upper.contains(&self.width)
            && self.decoded >= decoded_before + 30
            && (self.width == self.sent_width("f") || waited > Duration::from_secs(10))
    }
}
