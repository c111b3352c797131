//! Shared set-up for the SRTP fuzz targets.

use quietroom_srtp::{MasterKey, Profile, SrtpConfig, SrtpContext};

/// A sender and a receiver context under one fixed key, for the profile picked by `which`.
pub fn contexts(which: u8) -> Option<(Profile, SrtpContext, SrtpContext)> {
    let profile = Profile::ALL[usize::from(which) % Profile::ALL.len()];
    let key = vec![0x42; profile.key_len()];
    let salt = vec![0x17; profile.salt_len()];
    let master = MasterKey::new(profile, &key, &salt).ok()?;
    let config = SrtpConfig::default().with_max_streams(4);
    let tx = SrtpContext::new(&master, &config).ok()?;
    let rx = SrtpContext::new(&master, &config).ok()?;
    Some((profile, tx, rx))
}

/// Splits fuzz input into packets by one-byte length prefixes.
pub fn packets(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (&len, tail) = data.split_first()?;
        let (packet, rest) = tail.split_at(usize::from(len).min(tail.len()));
        data = rest;
        Some(packet)
    })
}
