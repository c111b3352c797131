//! The DTLS-SRTP handshake (RFC 5763/5764), sans-IO.
