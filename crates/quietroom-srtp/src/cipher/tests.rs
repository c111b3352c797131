//! Known-answer tests: RFC 3711 Appendix B.2, the libsrtp `srtp_driver` AES-CM packet, and
//! RFC 7714 §16–§17 (AES-GCM SRTP and SRTCP, session keys given directly).

use zeroize::Zeroizing;

use super::Cipher;
use crate::kdf::SessionKeys;
use crate::{Error, MasterKey, Profile, SrtpConfig, SrtpContext};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn session_keys(key: &[u8], salt: &[u8], auth: &[u8]) -> SessionKeys {
    let mut keys = SessionKeys {
        encryption: Zeroizing::new([0; 32]),
        authentication: Zeroizing::new([0; 20]),
        salt: Zeroizing::new([0; 14]),
    };
    keys.encryption[..key.len()].copy_from_slice(key);
    keys.salt[..salt.len()].copy_from_slice(salt);
    keys.authentication[..auth.len()].copy_from_slice(auth);
    keys
}

/// RFC 3711 B.2: session key, salt, SSRC 0 and index 0 give this AES-CM keystream; a zero
/// payload encrypts to the keystream itself.
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let keys = session_keys(
        &h("2B7E151628AED2A6ABF7158809CF4F3C"),
        &h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
        &[0; 20],
    );
    let cipher = Cipher::from_session_keys(Profile::Aes128CmHmacSha1_80, &keys, false).unwrap();
    let mut packet = [0u8; 12 + 48 + 10];
    packet[0] = 0x80;
    assert_eq!(cipher.seal_rtp(&mut packet, 12, 60, 0, 0).unwrap(), 70);
    let keystream = h(
        "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB
                       41E95B3BB0A2E8DD477901E4FCA894C0",
    );
    assert_eq!(&packet[12..60], &keystream[..]);
}

/// libsrtp's `srtp_driver` AES_CM_128_HMAC_SHA1_80 packet: master key in, so the KDF,
/// AES-CM and HMAC-SHA1 are covered together, through the public context.
#[test]
fn libsrtp_aes_cm_128_hmac_sha1_80_packet() {
    let master = MasterKey::new(
        Profile::Aes128CmHmacSha1_80,
        &h("e1f97a0d3e018be0d64fa32c06de4139"),
        &h("0ec675ad498afeebb6960b3aabe6"),
    )
    .unwrap();
    let plain = h("800f1234decafbadcafebabeabababababababababababababababab");
    let protected =
        h("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb");
    let mut tx = SrtpContext::new(&master, &SrtpConfig::default()).unwrap();
    let mut buf = [0u8; 64];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    assert_eq!(&buf[..n], &protected[..]);

    let mut rx = SrtpContext::new(&master, &SrtpConfig::default()).unwrap();
    let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..m], &plain[..]);
}

const GCM_SALT: &str = "517569642070726f2071756f"; // "Quid pro quo"
const RTP_PLAIN: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                         20646976 69736120 696e2070 61727465 73207472 6573";
const RTCP_PLAIN: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                          4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";

/// RFC 7714 §16.1.1: AEAD_AES_128_GCM SRTP, ROC 0, sequence number 0xf17b.
#[test]
fn rfc7714_aes_128_gcm_rtp() {
    let keys = session_keys(&h("000102030405060708090a0b0c0d0e0f"), &h(GCM_SALT), &[]);
    let cipher = Cipher::from_session_keys(Profile::AeadAes128Gcm, &keys, false).unwrap();
    let plain = h(RTP_PLAIN);
    let protected = h(
        "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca
                       be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1
                       6a9152cf 765ee439 0cce",
    );
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = cipher
        .seal_rtp(&mut buf, 12, plain.len(), 0x5501_a0b2, 0xf17b)
        .unwrap();
    assert_eq!(&buf[..n], &protected[..]);
    assert_eq!(
        cipher.open_rtp(&mut buf[..n], 12, 0x5501_a0b2, 0xf17b),
        Ok(plain.len())
    );
    assert_eq!(&buf[..plain.len()], &plain[..]);

    // Any flipped bit, in the header or the ciphertext, fails authentication.
    for bit in [3 * 8, 20 * 8 + 1, (protected.len() - 1) * 8] {
        let mut bad = protected.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            cipher.open_rtp(&mut bad, 12, 0x5501_a0b2, 0xf17b),
            Err(Error::AuthenticationFailed)
        );
    }
}

fn rfc7714_rtcp(profile: Profile, key: &str, protected: &str) {
    let keys = session_keys(&h(key), &h(GCM_SALT), &[]);
    let cipher = Cipher::from_session_keys(profile, &keys, true).unwrap();
    let plain = h(RTCP_PLAIN);
    let protected = h(protected);
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = cipher
        .seal_rtcp(&mut buf, plain.len(), 0x4d61_7273, 0x5d4)
        .unwrap();
    assert_eq!(&buf[..n], &protected[..]);
    assert_eq!(
        cipher.open_rtcp(&mut buf[..n], 0x4d61_7273, 0x8000_05d4),
        Ok(plain.len())
    );
    assert_eq!(&buf[..plain.len()], &plain[..]);
}

/// RFC 7714 §17.1: AEAD_AES_128_GCM SRTCP, index 0x5d4; the trailer is tag then E||index.
#[test]
fn rfc7714_aes_128_gcm_rtcp() {
    rfc7714_rtcp(
        Profile::AeadAes128Gcm,
        "000102030405060708090a0b0c0d0e0f",
        "81c8000d4d617273 63e94885dcdab67ca727d7662f6b7e997ff5c0f7
         6c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275b
         c84aa45896cf4d2fc5abf87245d9eade 800005d4",
    );
}

/// RFC 7714 §17.2: AEAD_AES_256_GCM SRTCP, index 0x5d4.
#[test]
fn rfc7714_aes_256_gcm_rtcp() {
    rfc7714_rtcp(
        Profile::AeadAes256Gcm,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c28
         2c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de047
         6f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4",
    );
}

/// Unencrypted SRTCP (E = 0) authenticates the whole packet and leaves it in the clear
/// (RFC 3711 §3.4, RFC 7714 §9.2). We never send it, but accept it as the RFCs say; built
/// here by hand for both transforms.
#[test]
fn unencrypted_srtcp_is_authenticated_not_decrypted() {
    let plain = h(RTCP_PLAIN);
    // AES-GCM: tag over (packet || 0x000005d4) with empty plaintext.
    let key = h("000102030405060708090a0b0c0d0e0f");
    let keys = session_keys(&key, &h(GCM_SALT), &[]);
    let cipher = Cipher::from_session_keys(Profile::AeadAes128Gcm, &keys, true).unwrap();
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &key).unwrap(),
    );
    let mut aad = plain.clone();
    aad.extend_from_slice(&[0, 0, 0x05, 0xd4]);
    let nonce = h("517524055203726f207170bb"); // RFC 7714 §17 IV for this SSRC and index
    let tag = ring_key
        .seal_in_place_separate_tag(
            ring::aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(),
            ring::aead::Aad::from(&aad),
            &mut [],
        )
        .unwrap();
    let mut pkt = plain.clone();
    pkt.extend_from_slice(tag.as_ref());
    pkt.extend_from_slice(&[0, 0, 0x05, 0xd4]);
    assert_eq!(
        cipher.open_rtcp(&mut pkt, 0x4d61_7273, 0x5d4),
        Ok(plain.len())
    );
    assert_eq!(&pkt[..plain.len()], &plain[..]);

    // AES-CM: HMAC over (packet || 0x000005d4), payload untouched.
    use hmac::{Hmac, Mac};
    let auth = [7u8; 20];
    let keys = session_keys(&[1; 16], &[2; 14], &auth);
    let cipher = Cipher::from_session_keys(Profile::Aes128CmHmacSha1_80, &keys, true).unwrap();
    let mut pkt = plain.clone();
    pkt.extend_from_slice(&[0, 0, 0x05, 0xd4]);
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&auth).unwrap();
    mac.update(&pkt);
    pkt.extend_from_slice(&mac.finalize().into_bytes()[..10]);
    assert_eq!(
        cipher.open_rtcp(&mut pkt, 0x4d61_7273, 0x5d4),
        Ok(plain.len())
    );
    assert_eq!(&pkt[..plain.len()], &plain[..]);
}
