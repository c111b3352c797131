// Line-by-line reading of stdin for the page scripts: `next()` resolves to the next line, or
// to null at the end. Lines are queued as they come, so that commands the test sends back to
// back (an answer and a command right behind it) are all read.

const readline = require('readline');

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

module.exports = { lineQueue };
