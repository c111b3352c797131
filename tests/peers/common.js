// What the page scripts share: launching Chromium, and the line protocol with the tests over
// stdin and stdout.
//
// launch(extraArgs): Chromium (CHROMIUM, default /usr/bin/chromium), headless, through
// playwright-core (PLAYWRIGHT_CORE), allowed loopback candidates, its timers kept running in a
// page nobody looks at.
//
// lineQueue(input): `next()` resolves to the next line, or to null at the end. Lines are
// queued as they come, so that commands the test sends back to back (an answer and a
// command right behind it) are all read.
//
// serve(next, key, apply, report): takes commands `{KEY: [...]}` and hands each array to
// `apply`, while printing `report()` as a JSON line every 250 ms; returns at the first line
// that is not such a command (or at the end of input), or after 5 minutes.

const path = require('path');
const readline = require('readline');
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
      await apply(command[key]);
    }
  };
  commands();
  const deadline = Date.now() + 300_000;
  while (!done && Date.now() < deadline) {
    console.log(JSON.stringify(await report()));
    await new Promise((r) => setTimeout(r, 250));
  }
}

module.exports = { launch, lineQueue, serve };
