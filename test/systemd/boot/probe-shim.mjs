// Boot test, probe mode: stands in for dist/cli/main.js inside the booted tree while
// the real `daemon`/`gate` commands are missing. `daemon` runs the live stage's own
// gate probe (dist/live/live-probe-main.js: SYN gate + /proc attribution) under the
// hardened unit, writes its JSON lines to $LOGS_DIRECTORY/probe.ndjson and marks the
// unit ready like the daemon must (src/service/ready-file.ts); `gate --remove` uses
// the real removeGateRules(); `report` prints the probe lines. Anything else goes to
// the real CLI (main-real.js).
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const [cmd, sub] = process.argv.slice(2);
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const logFile = `${process.env.LOGS_DIRECTORY ?? '/var/log/imdswatch'}/probe.ndjson`;

if (cmd === 'daemon') {
  const { markReady } = await import(here('../service/ready-file.js'));
  const child = spawn(process.execPath, [here('../live/live-probe-main.js'), '--mode', 'gate', '--queue', '7419', '--budget', '200'], { stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout }).on('line', (line) => {
    appendFileSync(logFile, `${line}\n`, { mode: 0o600 });
    console.log(line);
    if (line.includes('"ready":true')) console.log(`ready file: ${markReady()}`);
  });
  const stop = () => child.kill('SIGTERM');
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  child.on('exit', (code) => process.exit(code ?? 1));
} else if (cmd === 'gate' && sub === '--remove') {
  const { removeGateRules } = await import(here('../live/gate-rules.js'));
  const { removeEarlyChain } = await import(here('../live/boot-watch.js'));
  console.log(JSON.stringify({ ...removeGateRules(), early: removeEarlyChain() }));
} else if (cmd === 'report') {
  process.stdout.write(readFileSync('/var/log/imdswatch/probe.ndjson', 'utf8'));
} else {
  await import(here('./main-real.js'));
}
