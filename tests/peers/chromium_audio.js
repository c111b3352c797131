// Headless Chromium for tests/chromium_audio.rs: one page with four peer connections. Two
// publishers, a and b, each send an Opus track made by WebAudio (a 440 Hz and a 660 Hz tone
// through a gain); two subscribers, sa and sb, each receive one track from the SFU and play
// it through an <audio> element.
//
// Protocol over stdin/stdout, one JSON object per line:
//   out: {"a": OFFER_SDP, "b": OFFER_SDP, "sa": OFFER_SDP, "sb": OFFER_SDP}
//   in:  {"a": ANSWER_SDP, "b": ANSWER_SDP, "sa": ANSWER_SDP, "sb": ANSWER_SDP}
//   out: every 250 ms, {"sa": STATS, "sb": STATS, "states": [STATE, ...]}, STATS being the
//        subscriber's inbound-rtp audio: {"packets", "level" (0..1, the last 10 ms played),
//        "energy" (totalAudioEnergy), "duration" (totalSamplesDuration), "samples",
//        "concealed"}
//   in:  {"gains": [A, B]} sets the publishers' gains (0 is silence); any other line (or EOF)
//        ends it.
//
// Usage: node chromium_audio.js   (PLAYWRIGHT_CORE: where playwright-core is installed;
// CHROMIUM: the browser, default /usr/bin/chromium)

const { launch, lineQueue, serve } = require('./common');

async function main() {
  const browser = await launch(['--autoplay-policy=no-user-gesture-required']);
  const page = await browser.newPage();
  await page.setContent('<audio id="sa" autoplay></audio><audio id="sb" autoplay></audio>');
  const offers = await page.evaluate(async () => {
    const context = new AudioContext();
    await context.resume();
    const tone = (frequency) => {
      const oscillator = context.createOscillator();
      oscillator.frequency.value = frequency;
      const gain = context.createGain();
      gain.gain.value = 0;
      const destination = context.createMediaStreamDestination();
      oscillator.connect(gain).connect(destination);
      oscillator.start();
      return { gain, track: destination.stream.getAudioTracks()[0] };
    };
    const a = tone(440);
    const b = tone(660);
    const pcs = {};
    for (const [name, source] of [['a', a], ['b', b]]) {
      pcs[name] = new RTCPeerConnection();
      pcs[name].addTransceiver(source.track, { direction: 'sendonly' });
    }
    for (const name of ['sa', 'sb']) {
      pcs[name] = new RTCPeerConnection();
      pcs[name].addTransceiver('audio', { direction: 'recvonly' });
      pcs[name].ontrack = (e) => {
        document.getElementById(name).srcObject = new MediaStream([e.track]);
      };
    }
    window.room = { pcs, gains: [a.gain, b.gain] };
    const gathered = (pc) =>
      new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') resolve();
        });
      });
    const out = {};
    for (const [name, pc] of Object.entries(pcs)) {
      await pc.setLocalDescription();
      await gathered(pc);
      out[name] = pc.localDescription.sdp;
    }
    return out;
  });
  console.log(JSON.stringify(offers));

  const next = lineQueue(process.stdin);
  const answers = JSON.parse(await next());
  await page.evaluate(async (answers) => {
    for (const [name, pc] of Object.entries(window.room.pcs)) {
      await pc.setRemoteDescription({ type: 'answer', sdp: answers[name] });
    }
  }, answers);

  await serve(
    next,
    'gains',
    (gains) =>
      page.evaluate((gains) => {
        window.room.gains.forEach((g, i) => {
          g.gain.value = gains[i];
        });
      }, gains),
    () =>
      page.evaluate(async () => {
        const out = { states: [] };
        for (const [name, pc] of Object.entries(window.room.pcs)) {
          out.states.push(pc.connectionState);
          if (!name.startsWith('s')) continue;
          out[name] = { packets: 0, level: 0, energy: 0, duration: 0, samples: 0, concealed: 0 };
          (await pc.getStats()).forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio') {
              out[name] = {
                packets: s.packetsReceived || 0,
                level: s.audioLevel || 0,
                energy: s.totalAudioEnergy || 0,
                duration: s.totalSamplesDuration || 0,
                samples: s.totalSamplesReceived || 0,
                concealed: s.concealedSamples || 0,
              };
            }
          });
        }
        return out;
      }),
  );
  await browser.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
