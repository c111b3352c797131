// What the page scripts share: launching Chromium, and the line protocol with the tests over
// stdin and stdout.
//
// launch(extraArgs): Chromium (CHROMIUM, default /usr/bin/chromium), headless, through
// playwright-core (PLAYWRIGHT_CORE), allowed loopback candidates, its timers kept running in a
// page nobody looks at.
// Chromium logs warnings (WebRTC's among them) to its stderr, which playwright reads on its
// pw:browser debug channel; they are kept here, not printed, for `logged(pattern)` (unless
// DEBUG already named pw:browser: then they are printed too). CHROMIUM_EXTRA_ARGS adds flags,
// space-separated: with '--vmodule=*/third_party/webrtc/*=1' and DEBUG=pw:browser, all of
// WebRTC's log shows on stderr.
//
// lineQueue(input): `next()` resolves to the next line, or to null at the end. Lines are
// queued as they come, so that commands the test sends back to back (an answer and a
// command right behind it) are all read.
//
// serve(next, key, apply, report): takes commands `{KEY: [...], ...}` and hands each array
// (and the whole command) to `apply`, while printing `report()` as a JSON line every 250 ms; returns at the first line
// that is not such a command (or at the end of input), or after 5 minutes.

const path = require('path');
const readline = require('readline');

// Chromium's log lines, as they come.
const browserLog = [];
const printBrowserLog = (process.env.DEBUG || '').includes('pw:browser');
process.env.DEBUG = [process.env.DEBUG, 'pw:browser'].filter(Boolean).join(',');
const stderrWrite = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  const text = String(chunk);
  if (text.includes(' pw:browser ')) {
    if (browserLog.length < 10_000) browserLog.push(text);
    if (!printBrowserLog) return true;
  }
  return stderrWrite(chunk, ...rest);
};
const { chromium } = require(process.env.PLAYWRIGHT_CORE
  ? path.resolve(process.env.PLAYWRIGHT_CORE)
  : 'playwright-core');

function launch(extraArgs) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--allow-loopback-in-peer-connection',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // Keep timers and rendering going in a page nobody looks at.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      ...extraArgs,
      '--enable-logging=stderr',
      '--log-level=1',
      ...(process.env.CHROMIUM_EXTRA_ARGS ? process.env.CHROMIUM_EXTRA_ARGS.split(' ') : []),
    ],
  });
}

function lineQueue(input) {
  const lines = readline.createInterface({ input });
  const queued = [];
  const waiting = [];
  let closed = false;
  lines.on('line', (line) => (waiting.length ? waiting.shift()(line) : queued.push(line)));
  lines.on('close', () => {
    closed = true;
    waiting.splice(0).forEach((resolve) => resolve(null));
  });
  return () =>
    new Promise((resolve) => {
      if (queued.length) resolve(queued.shift());
      else if (closed) resolve(null);
      else waiting.push(resolve);
    });
}

async function serve(next, key, apply, report) {
  let done = false;
  const commands = async () => {
    for (;;) {
      const line = await next();
      let command = null;
      try {
        command = line && JSON.parse(line);
      } catch (e) {
        command = null;
      }
      if (!command || !Array.isArray(command[key])) {
        done = true;
        return;
      }
      await apply(command[key], command);
    }
  };
  commands();
  const deadline = Date.now() + 300_000;
  while (!done && Date.now() < deadline) {
    console.log(JSON.stringify(await report()));
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The matches of `pattern` (a RegExp) in Chromium's log so far, one per line that matched.
function logged(pattern) {
  return browserLog.map((line) => line.match(pattern)).filter(Boolean);
}

module.exports = { launch, lineQueue, logged, serve };
