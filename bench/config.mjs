// How long reading a config file holds the event loop (start-up, check-config, SIGHUP reload all call
// loadConfigFile on the main thread), for a real config and for files built to be slow to parse.
//
//   npm run build && node bench/config.mjs [--runs 5] [--only real,attack-1mb,cap-block,cap-flow]
//   # against another build (e.g. the code before the cap): GLUE_ENI_DIST=/tmp/before/dist node bench/config.mjs
//
// Each file is loaded --runs times in this process (after one warm-up load of the real config); the figures are
// the wall time of loadConfigFile (how long the event loop is held) and the CPU time it used (less sensitive to
// other load on the machine); `outcome` says whether the file loaded or was refused (and why).
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
  },
});
const dist = resolve(process.env.GLUE_ENI_DIST ?? new URL('../dist', import.meta.url).pathname);
const { loadConfigFile } = await import(join(dist, 'config', 'load.js'));
const root = new URL('..', import.meta.url).pathname;
const CAP = 256 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'bench-config-'));

/** As many generated lines as fit in `bytes` after `head` (keys stay unique strings: k + a counter in base 36). */
function fill(head, bytes, line, tail = '') {
  const parts = [head];
  let size = head.length + tail.length;
  for (let i = 0; ; i++) {
    const l = line(`k${i.toString(36)}`);
    if (size + l.length > bytes) break;
    parts.push(l);
    size += l.length;
  }
  parts.push(tail);
  return { text: parts.join(''), keys: parts.length - 2 };
}

const files = {
  // The repository's full example: every section set.
  real: () => ({ path: join(root, 'src', 'config', 'testdata', 'good-full.yml'), keys: undefined }),
  // The reported attack: a valid config of ~1 MB with 40,000 per-subnet overrides.
  'attack-1mb': () => {
    const head = 'subnets:\n  - {id: subnet-0a1, name: critical}\nadmission:\n  subnets:\n';
    const body = Array.from({ length: 40_000 }, (_, i) => `    k${String(i).padStart(5, '0')}: {lookback: 5}\n`).join('');
    const path = join(dir, 'attack-1mb.yml');
    writeFileSync(path, head + body);
    return { path, keys: 40_000 };
  },
  // The most keys a block map fits under the cap: one short key per line.
  'cap-block': () => {
    const f = fill('subnets:\n  - {id: subnet-0a1}\nadmission:\n  subnets:\n', CAP, (k) => `    ${k}: {}\n`);
    const path = join(dir, 'cap-block.yml');
    writeFileSync(path, f.text);
    return { path, keys: f.keys };
  },
  // The most keys a flow map fits under the cap: no newlines, no indentation.
  'cap-flow': () => {
    const f = fill('subnets: [{id: subnet-0a1}]\nadmission: {subnets: {', CAP, (k) => `${k}: {},`, '}}\n');
    const path = join(dir, 'cap-flow.yml');
    writeFileSync(path, f.text);
    return { path, keys: f.keys };
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = Number(values.runs);
const names = values.only ? values.only.split(',') : Object.keys(files);
const results = [];
try {
  loadConfigFile(files.real().path, {});
  for (const name of names) {
    const { path, keys } = files[name]();
    const ms = [];
    const cpu = [];
    let outcome = 'loaded';
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        loadConfigFile(path, {});
      } catch (err) {
        outcome = `refused: ${err.message.split('\n')[0].slice(path.length + 2, path.length + 90)}`;
      }
      ms.push(Math.round(performance.now() - t0));
      const c = process.cpuUsage(c0);
      cpu.push(Math.round((c.user + c.system) / 1000));
    }
    results.push({
      file: name,
      bytes: statSync(path).size,
      keys,
      outcome,
      median_ms: median(ms),
      median_cpu_ms: median(cpu),
      runs_ms: ms,
      runs_cpu_ms: cpu,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify({ node: process.version, dist, results }, null, 2));
