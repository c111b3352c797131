//! A peer program (headless Chromium's page scripts, aiortc) driven over the tests' line
//! protocol on its stdin and stdout.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use super::Offer;

/// A peer program speaking the tests' line protocol: JSON offers out, JSON answers in, then
/// JSON reports out.
pub(crate) struct PeerProcess {
    pub(crate) child: Child,
    pub(crate) stdin: ChildStdin,
    /// Its stdout, line by line, read on a thread so the SFU loop never blocks on it.
    pub(crate) lines: Receiver<String>,
}

impl PeerProcess {
    pub(crate) fn spawn(mut command: Command) -> PeerProcess {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        PeerProcess {
            child,
            stdin,
            lines,
        }
    }

    /// Its publisher's and subscriber's offers.
    pub(crate) fn offers(&self, within: Duration) -> (Offer, Offer) {
        let mut offers = self.named_offers(&["publisher", "subscriber"], within);
        let subscriber = offers.pop().unwrap();
        (offers.pop().unwrap(), subscriber)
    }

    /// The offers of the peer connections `names`, from one JSON line keyed by name.
    pub(crate) fn named_offers(&self, names: &[&str], within: Duration) -> Vec<Offer> {
        let line = self
            .lines
            .recv_timeout(within)
            .expect("offers from the peer");
        let offers: serde_json::Value = serde_json::from_str(&line).unwrap();
        names
            .iter()
            .map(|&name| Offer::parse(offers[name].as_str().expect("an SDP offer")))
            .collect()
    }

    pub(crate) fn answer(&mut self, publisher: &str, subscriber: &str) {
        self.named_answers(&[("publisher", publisher), ("subscriber", subscriber)]);
    }

    /// Answers, keyed by peer connection name, on one JSON line.
    pub(crate) fn named_answers(&mut self, answers: &[(&str, &str)]) {
        let answers: serde_json::Map<String, serde_json::Value> = answers
            .iter()
            .map(|&(name, sdp)| (name.to_owned(), sdp.into()))
            .collect();
        writeln!(self.stdin, "{}", serde_json::Value::Object(answers)).unwrap();
    }

    /// Turns the publisher's encodings on or off, lowest first (`chromium_room.js`).
    pub(crate) fn set_active(&mut self, active: &[bool]) {
        let command = serde_json::json!({ "active": active });
        writeln!(self.stdin, "{command}").unwrap();
    }

    /// Sets the scalability mode of the publisher's one encoding, and its resolution scaled
    /// down by `scale` (`chromium_room.js`).
    pub(crate) fn set_scalability_mode(&mut self, mode: &str, scale: f64) {
        let command = serde_json::json!({ "active": [true], "mode": mode, "scale": scale });
        writeln!(self.stdin, "{command}").unwrap();
    }
}
