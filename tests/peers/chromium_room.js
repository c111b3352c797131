// Headless Chromium for tests/chromium_sfu.rs and tests/chromium_codecs.rs: one page with
// two peer connections, a publisher sending a canvas animation as simulcast (RIDs q, h, f at
// 1/4, 1/2 and full 1280x720) and a subscriber that decodes what the SFU forwards to it.
//
// The codec is Chromium's first choice (VP8) unless CODEC names another (VP9, H264, AV1):
// then both peer connections offer only that codec and its RTX (setCodecPreferences; for
// H264 the packetization-mode=1 constrained-baseline 42e01f profile), and VP9 and AV1 get
// scalabilityMode L1T3 per encoding, so that each RID is an encoder of its own (simulcast),
// not a layer of one SVC stream. With SVC set (e.g. L3T3_KEY, for VP9) the publisher sends
// one encoding in that scalability mode instead: every spatial layer in one SSRC, no RIDs.
//
// Protocol over stdin/stdout, one JSON object per line:
//   out: {"publisher": OFFER_SDP, "subscriber": OFFER_SDP}
//   in:  {"publisher": ANSWER_SDP, "subscriber": ANSWER_SDP}
//   out: every 250 ms, {"decoded": N, "width": W, "height": H, "nacks": N, "retransmitted": N,
//        "plis": N, "firs": N, "keyframes": N (keyframes decoded),
//        "sent": {RID: WIDTH|0, ...}, "active": {RID: BOOL, ...}, "publisher": STATE,
//        "subscriber": STATE, "stalls": [{"last": TS, "decoded": TS}, ...]}; a stall is
//        Chromium's receiver asking for a keyframe after 3 s without a decodable frame (its
//        log), with the last RTP timestamp it had and the last one it decoded.
//   in:  {"active": [BOOL, BOOL, BOOL]} turns the publisher's encodings (q, h, f) on or off
//        (RTCRtpSender.setParameters), as an application does on the SFU's layer demand;
//        with "mode": MODE and "scale": S too, the first encoding's scalabilityMode becomes
//        MODE and its scaleResolutionDownBy S (fewer SVC spatial layers: libwebrtc scales
//        them down from the encoding's resolution, so dropping the top one of three is L2
//        at half the resolution); any other line (or EOF) ends it.
//
// Usage: node chromium_room.js   (PLAYWRIGHT_CORE: where playwright-core is installed;
// CHROMIUM: the browser, default /usr/bin/chromium)

const { launch, lineQueue, logged, serve } = require('./common');

async function main() {
  const browser = await launch([]);
  const page = await browser.newPage();
  await page.setContent('<video id="v" autoplay muted playsinline></video>');
  const codec = process.env.CODEC || null;
  const svc = process.env.SVC || null;
  const offers = await page.evaluate(async ([codec, svc]) => {
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const ctx = canvas.getContext('2d');
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = `hsl(${(n * 7) % 360}, 70%, 45%)`;
      ctx.fillRect(0, 0, 1280, 720);
      ctx.fillStyle = '#fff';
      ctx.fillRect((n * 13) % 1200, (n * 7) % 640, 80, 80);
      ctx.font = '64px sans-serif';
      ctx.fillText(String(n), 40, 100);
      n += 1;
    }, 33);
    const track = canvas.captureStream(30).getVideoTracks()[0];
    const publisher = new RTCPeerConnection();
    const svcCodec = codec === 'VP9' || codec === 'AV1';
    // SVC at 15 frames per second: three spatial layers of 720p at 30 are more than two
    // cores encode without dropping upper layer frames.
    const encodings = svc
      ? [{ scalabilityMode: svc, maxFramerate: 15 }]
      : [
          { rid: 'q', scaleResolutionDownBy: 4 },
          { rid: 'h', scaleResolutionDownBy: 2 },
          { rid: 'f' },
        ].map((e) => (svcCodec ? { ...e, scalabilityMode: 'L1T3' } : e));
    const transceiver = publisher.addTransceiver(track, {
      direction: 'sendonly',
      sendEncodings: encodings,
    });
    const subscriber = new RTCPeerConnection();
    const receiving = subscriber.addTransceiver('video', { direction: 'recvonly' });
    if (codec) {
      const wanted = (c) => {
        if (c.mimeType === 'video/rtx') return true;
        if (c.mimeType !== `video/${codec}`) return false;
        const fmtp = c.sdpFmtpLine || '';
        if (codec === 'H264') {
          return fmtp.includes('packetization-mode=1') && fmtp.includes('profile-level-id=42e01f');
        }
        if (codec === 'VP9') return fmtp.includes('profile-id=0');
        return true;
      };
      const sending = RTCRtpSender.getCapabilities('video').codecs.filter(wanted);
      const received = RTCRtpReceiver.getCapabilities('video').codecs.filter(wanted);
      if (!sending.some((c) => c.mimeType !== 'video/rtx')) {
        throw new Error(`Chromium cannot send ${codec}`);
      }
      transceiver.setCodecPreferences(sending);
      receiving.setCodecPreferences(received);
    }
    subscriber.ontrack = (e) => {
      document.getElementById('v').srcObject = new MediaStream([e.track]);
    };
    window.room = { publisher, subscriber };
    const gathered = (pc) =>
      new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') resolve();
        });
      });
    // On a busy machine Chromium's CPU adaptation would scale the input down, which leaves
    // no room for the upper simulcast layers; keep the resolution and drop frames instead.
    const parameters = transceiver.sender.getParameters();
    parameters.degradationPreference = 'maintain-resolution';
    await transceiver.sender.setParameters(parameters).catch(() => {});
    // (Not with SVC: Chromium 156 then encodes nothing at all.)
    if (!svc) track.contentHint = 'detail';
    await publisher.setLocalDescription();
    await subscriber.setLocalDescription();
    await Promise.all([gathered(publisher), gathered(subscriber)]);
    return {
      publisher: publisher.localDescription.sdp,
      subscriber: subscriber.localDescription.sdp,
    };
  }, [codec, svc]);
  console.log(JSON.stringify(offers));

  const next = lineQueue(process.stdin);
  const answers = JSON.parse(await next());
  await page.evaluate(async (answers) => {
    await window.room.publisher.setRemoteDescription({ type: 'answer', sdp: answers.publisher });
    await window.room.subscriber.setRemoteDescription({ type: 'answer', sdp: answers.subscriber });
  }, answers);

  await serve(
    next,
    'active',
    (active, command) =>
      page.evaluate(
        async ([active, mode, scale]) => {
          const sender = window.room.publisher.getSenders()[0];
          const parameters = sender.getParameters();
          parameters.encodings.forEach((e, i) => {
            e.active = active[i] !== false;
          });
          if (mode) {
            parameters.encodings[0].scalabilityMode = mode;
            parameters.encodings[0].scaleResolutionDownBy = scale || 1;
          }
          await sender.setParameters(parameters);
        },
        [active, command.mode || null, command.scale || 1],
      ),
    () =>
      page.evaluate(async () => {
        const out = { decoded: 0, width: 0, height: 0, sent: {}, active: {} };
        (await window.room.subscriber.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') {
            out.decoded = s.framesDecoded || 0;
            out.width = s.frameWidth || 0;
            out.height = s.frameHeight || 0;
            out.nacks = s.nackCount || 0;
            out.retransmitted = s.retransmittedPacketsReceived || 0;
            out.plis = s.pliCount || 0;
            out.firs = s.firCount || 0;
            out.keyframes = s.keyFramesDecoded || 0;
          }
        });
        (await window.room.publisher.getStats()).forEach((s) => {
          if (s.type === 'outbound-rtp' && s.kind === 'video') {
            // One SVC encoding has no RID: it shows as "-", with its scalability mode.
            const rid = s.rid || '-';
            out.sent[rid] = s.frameWidth || 0;
            out.active[rid] = s.active !== false;
            if (!s.rid) out.mode = `${s.scalabilityMode} ${s.packetsSent} packets`;
          }
        });
        out.publisher = window.room.publisher.connectionState;
        out.subscriber = window.room.subscriber.connectionState;
        return out;
      }).then((out) => ({
        ...out,
        stalls: logged(
          /No decodable frame in \d+ us requesting keyframe\. Last RTP timestamp (\d+), last decoded frame RTP timestamp (\d+)/,
        ).map((m) => ({ last: Number(m[1]), decoded: Number(m[2]) })),
      })),
  );
  await browser.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
