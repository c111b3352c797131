"""Two aiortc peer connections for tests/aiortc_sfu.rs: a publisher of VP8 video and a
subscriber that decodes what the SFU forwards to it.

Protocol over stdin/stdout, one JSON object per line:
  out: {"publisher": OFFER_SDP, "subscriber": OFFER_SDP}
  in:  {"publisher": ANSWER_SDP, "subscriber": ANSWER_SDP}
  out: {"frames": N, "sizes": [[W, H], ...], "publisher": STATE, "subscriber": STATE}
       or {"frames": N, "error": "..."} when FRAMES frames did not arrive within 30 s.

Usage: python aiortc_room.py FRAMES
"""

import asyncio
import json
import sys

import aioice

# aioice leaves 127.0.0.1 out of its host candidates; this test only uses loopback.
aioice.ice.get_host_addresses = lambda *args, **kwargs: ["127.0.0.1"]

from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack  # noqa: E402


async def main(frames_wanted):
    loop = asyncio.get_running_loop()
    publisher = RTCPeerConnection()
    publisher.addTrack(VideoStreamTrack())  # 640x480 frames at 30 fps, encoded as VP8
    subscriber = RTCPeerConnection()
    subscriber.addTransceiver("video", direction="recvonly")

    result = loop.create_future()
    sizes = set()

    @subscriber.on("track")
    def on_track(track):
        async def consume():
            n = 0
            try:
                while n < frames_wanted:
                    frame = await track.recv()
                    sizes.add((frame.width, frame.height))
                    n += 1
            finally:
                if not result.done():
                    result.set_result(n)

        asyncio.ensure_future(consume())

    await publisher.setLocalDescription(await publisher.createOffer())
    await subscriber.setLocalDescription(await subscriber.createOffer())
    print(
        json.dumps(
            {
                "publisher": publisher.localDescription.sdp,
                "subscriber": subscriber.localDescription.sdp,
            }
        ),
        flush=True,
    )
    answers = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    await publisher.setRemoteDescription(
        RTCSessionDescription(answers["publisher"], "answer")
    )
    await subscriber.setRemoteDescription(
        RTCSessionDescription(answers["subscriber"], "answer")
    )
    out = {}
    try:
        out["frames"] = await asyncio.wait_for(result, 30)
    except asyncio.TimeoutError:
        out["frames"] = 0
        out["error"] = "no decoded frames within 30 s"
    out["sizes"] = sorted(sizes)
    out["publisher"] = publisher.connectionState
    out["subscriber"] = subscriber.connectionState
    print(json.dumps(out), flush=True)
    await publisher.close()
    await subscriber.close()


asyncio.run(main(int(sys.argv[1])))
