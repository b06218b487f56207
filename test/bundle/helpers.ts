// Shared plumbing for the monitoring bundle tests: repository paths, binaries, child processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { repoPath, ROOT } from '../helpers/paths.js';

export { repoPath, ROOT } from '../helpers/paths.js';
export const readYaml = <T = unknown>(...p: string[]): T => parse(readFileSync(repoPath(...p), 'utf8')) as T;

export const execFileP = promisify(execFile);

/** Absolute path of an executable on PATH, or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export const INSTALL_HINT = 'run scripts/install-monitoring-deps.sh';

/** Fail with the install hint instead of a spawn ENOENT. */
export function requireBin(bin: string): string {
  const p = which(bin);
  if (!p) throw new Error(`${bin} not found on PATH: ${INSTALL_HINT}`);
  return p;
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface Proc {
  child: ChildProcess;
  /** Last output lines, for failure messages. */
  output: () => string;
  stop: () => Promise<void>;
}

export function startProc(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  const keep = (d: Buffer) => {
    buf = (buf + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    output: () => buf,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Render alertmanager/alertmanager.yml through the shipped render script, as the container does. */
export async function renderAlertmanagerConfig(out: string, env: Record<string, string>): Promise<void> {
  await execFileP('sh', [repoPath('alertmanager', 'render-config.sh'), repoPath('alertmanager', 'alertmanager.yml'), out], {
    env: { PATH: process.env.PATH, ALERTMANAGER_TEMPLATES_DIR: repoPath('alertmanager', 'templates'), ...env },
  });
}

export interface PromRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface PromRuleFile {
  groups: Array<{ name: string; rules: PromRule[] }>;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
export const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

/** The anchors of a Markdown document's headings. */
export const headingAnchors = (md: string): Set<string> =>
  new Set(
    md
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, ''))),
  );
