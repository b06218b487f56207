// The docs check: every `curl`, `aws` and `glue-eni-exporter` command of the README, the runbook and the
// simulator's page, run as written against `npm run demo` (ports substituted), so that none of them can rot.
// Commands that start a server (`sim`, `serve`) are started in the background on a free port and must answer;
// every other one must exit 0, or with the status its `# expect exit N` names. curl runs with --fail-with-body,
// so that a 404 (a subnet the demo does not have) fails like a broken command.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.js';
import { CLI, repoPath } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { docCommands, type DocCommand } from './commands.js';
import { startDemoProc, type DemoProc } from './helpers.js';

/** The demo's virtual start (its scenario's demoStart), at real-time speed so that the world holds still. */
const DEMO_START = '2026-04-06T06:40:00Z';
const COMMAND_TIMEOUT_MS = 90_000;

let demo: DemoProc;
let work: string;
let env: NodeJS.ProcessEnv;
const servers: ChildProcess[] = [];
const counts: Record<string, number> = {};

beforeAll(async () => {
  demo = await startDemoProc(['--speed', '1', '--start', DEMO_START]);
  work = mkdtempSync(join(tmpdir(), 'docs-check-'));
  // A user's shell in a clone: the scenarios at hand, the CLI on PATH (as `npm install -g` puts it).
  symlinkSync(repoPath('scenarios'), join(work, 'scenarios'));
  const bin = join(work, 'bin');
  mkdirSync(bin);
  const realCurl = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
  const shim = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  shim('glue-eni-exporter', `exec "${process.execPath}" "${CLI}" "$@"`);
  shim('curl', `exec "${realCurl}" --fail-with-body "$@"`);
  // Nothing from the caller's AWS set-up: each command gets only what its doc tells the reader to set.
  env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') || k === 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'),
  );
  Object.assign(env, {
    PATH: `${bin}:${process.env.PATH}`,
    AWS_CONFIG_FILE: join(work, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
}, 60_000);

afterAll(async () => {
  for (const s of servers) if (s.pid) process.kill(-s.pid, 'SIGKILL');
  await demo?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(
    `docs check: ${Object.entries(counts)
      .map(([f, n]) => `${f} ${n}`)
      .join(', ')} commands run`,
  );
});

function sh(script: string, extraEnv: NodeJS.ProcessEnv = {}) {
  return spawnSync('bash', ['-o', 'pipefail', '-c', script], {
    cwd: work,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    timeout: COMMAND_TIMEOUT_MS,
  });
}

/** The demo's simulator as the AWS CLI reaches it (for the check's own look-ups, not the docs' commands). */
const simCli = () => ({
  AWS_ENDPOINT_URL: demo.simUrl,
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
});

/** A GET through the same curl the commands use (a fresh connection each time). */
function getJson<T>(url: string): T {
  const r = sh(`curl -s '${url}'`);
  if (r.status !== 0) throw new Error(`GET ${url}: exit ${r.status} ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Values for the `<placeholders>` the runbook leaves to the reader, taken from the demo's world when needed. */
const placeholders: Record<string, () => string | Promise<string>> = {
  '<job-name>': () => 'reporting',
  '<run-id>': () => sh(`aws glue get-job-runs --job-name reporting --query 'JobRuns[0].Id' --output text`, simCli()).stdout.trim(),
  '<eni-id>': () => {
    const { enis } = getJson<{ enis: { eni_id: string; status: string }[] }>(`${demo.url}/api/subnets/subnet-0a1/enis`);
    const available = enis.find((e) => e.status === 'available');
    if (!available) throw new Error('the demo shows no available ENI');
    return available.eni_id;
  },
  '<n>': () => '1',
  '<id>': () => 'docs-check',
  '<ISO time>': () => '2026-04-06T07:20:00Z',
  // The exporter's config file: one for the demo's subnet (the README's own config.yml is its example's).
  '<file>': () => {
    writeFileSync(join(work, 'exporter.yml'), `region: us-east-1\nsubnets:\n  - {id: subnet-0a1, name: shared}\n`);
    return 'exporter.yml';
  },
  // A real ticket: a wait for more than the subnet has free right now.
  '<ticket>': () => {
    const r = getJson<{ ticket?: string }>(`${demo.url}/admit?subnet=shared&workers=55&client_id=docs-check-ticket`);
    if (!r.ticket) throw new Error(`no ticket in ${JSON.stringify(r)}`);
    return r.ticket;
  },
};

async function resolve(text: string, ports: Map<string, number>): Promise<string> {
  let out = text.replace(/\bnpx glue-eni-exporter\b/g, 'glue-eni-exporter');
  for (const [from, to] of ports) out = out.replace(new RegExp(`(?:127\\.0\\.0\\.1|0\\.0\\.0\\.0|localhost):${from}\\b`, 'g'), `127.0.0.1:${to}`);
  for (const [name, value] of Object.entries(placeholders)) if (out.includes(name)) out = out.replaceAll(name, await value());
  const unknown = /<[a-zA-Z][\w -]*>/.exec(out.replace(/<<-?\s*'?\w+'?/g, ''));
  if (unknown) throw new Error(`no value for the placeholder ${unknown[0]}`);
  return out;
}

/** Start a server command in the background on its own port; resolves once it answers HTTP. */
async function startServer(text: string, prelude: string): Promise<void> {
  const port = Number(/--listen\s+\S*:(\d+)/.exec(text)?.[1]);
  const child = spawn('bash', ['-c', `${prelude}\n${text}`], {
    cwd: work,
    // A server a doc starts against real AWS samples the demo's simulator here.
    env: { ...env, ...simCli(), AWS_ENDPOINT_URL: demo.simUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  servers.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(
    `${text} to answer on port ${port}\n${out}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${out}`);
      await fetch(`http://127.0.0.1:${port}/-/healthy`);
      return true;
    },
    30_000,
    200,
  );
}

async function runDoc(file: string, inline: boolean): Promise<string[]> {
  const commands: DocCommand[] = docCommands(readFileSync(repoPath(file), 'utf8'), { inline });
  const ports = new Map([
    ['9858', demo.port],
    ['4566', demo.simPort],
  ]);
  const setup: string[] = [];
  const failures: string[] = [];
  counts[file] = 0;
  for (const c of commands) {
    const where = `${file}:${c.line}`;
    try {
      if (c.kind === 'setup') {
        setup.push(await resolve(c.text, ports));
        continue;
      }
      // A server meant to fail (its port taken) runs to its exit on the documented port, which the demo holds.
      if (c.kind === 'server' && c.expectExit === 0) {
        // Its own free port: the demo holds the documented ones. The commands after a simulator reach that
        // simulator; those after an exporter (`serve` against real AWS) still mean the demo.
        const listen = /--listen\s+\S*:(\d+)/.exec(c.text)?.[1];
        const own = new Map(ports);
        if (listen) own.set(listen, await freePort());
        if (/\ssim\s/.test(c.text)) for (const [k, v] of own) ports.set(k, v);
        await startServer(await resolve(c.text, own), setup.join('\n'));
        counts[file]++;
        continue;
      }
      const text = await resolve(c.text, ports);
      const r = sh(`${setup.join('\n')}\n${text}`);
      counts[file]++;
      if (r.status !== c.expectExit)
        failures.push(`${where}: exit ${r.status ?? r.signal}, expected ${c.expectExit}\n$ ${text}\n${(r.stdout + r.stderr).slice(-1500)}`);
    } catch (err) {
      failures.push(`${where}: ${(err as Error).message}\n$ ${c.text}`);
    }
  }
  return failures;
}

describe('documented commands run as written against the demo', () => {
  it('README.md', async () => {
    expect(await runDoc('README.md', false)).toEqual([]);
    expect(counts['README.md']).toBeGreaterThanOrEqual(7);
  }, 240_000);

  it('docs/runbook.md (its blocks and its inline commands)', async () => {
    expect(await runDoc('docs/runbook.md', true)).toEqual([]);
    expect(counts['docs/runbook.md']).toBeGreaterThanOrEqual(20);
  }, 240_000);

  it('docs/simulator.md', async () => {
    expect(await runDoc('docs/simulator.md', false)).toEqual([]);
    expect(counts['docs/simulator.md']).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
