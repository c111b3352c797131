"""A line-oriented libsrtp peer for quietroom's interop tests (pylibsrtp = libsrtp 2.7).

Each input line: SESSION PROFILE_ID KEY_AND_SALT_HEX OP PACKET_HEX
  OP is protect, unprotect, protect_rtcp or unprotect_rtcp. A session is created on first
  use of its name (outbound for protect*, inbound for unprotect*) and keeps its state.
Each output line: the resulting packet in hex, or "ERR <reason>".
"""
import sys

import pylibsrtp

sessions = {}

for line in sys.stdin:
    name, profile, key, op, packet = line.split()
    session = sessions.get(name)
    if session is None:
        ssrc_type = (
            pylibsrtp.Policy.SSRC_ANY_OUTBOUND
            if op.startswith("protect")
            else pylibsrtp.Policy.SSRC_ANY_INBOUND
        )
        policy = pylibsrtp.Policy(
            key=bytes.fromhex(key), ssrc_type=ssrc_type, srtp_profile=int(profile)
        )
        session = sessions[name] = pylibsrtp.Session(policy=policy)
    try:
        out = getattr(session, op)(bytes.fromhex(packet))
        print(out.hex(), flush=True)
    except pylibsrtp.Error as e:
        print("ERR", str(e).replace("\n", " ") or "error", flush=True)
