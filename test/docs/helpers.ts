// `npm run demo` as a user runs it: the built CLI in a child process, on free ports, with what it printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from '../helpers/net.js';
import { CLI } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

export interface DemoProc {
  child: ChildProcess;
  /** The exporter's base URL. */
  url: string;
  port: number;
  /** The simulator's base URL, read from the banner. */
  simUrl: string;
  simPort: number;
  output(): string;
  stop(): Promise<number | null>;
}

/** Spawn `demo` with `args`; with `wait`, resolve once the banner is out and the exporter is ready. */
export function spawnDemo(args: string[]): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => out, exit };
}

export async function startDemoProc(args: string[] = []): Promise<DemoProc> {
  const port = await freePort();
  const { child, output, exit } = spawnDemo(['--listen', `127.0.0.1:${port}`, ...args]);
  let exited = false;
  void exit.then(() => (exited = true));
  try {
    const simUrl = await waitFor(
      'the demo banner',
      () => {
        if (exited) throw new Error(`demo exited early:\n${output()}`);
        return /AWS simulator\s+(http:\/\/\S+)/.exec(output())?.[1];
      },
      30_000,
      100,
    );
    await waitFor(
      'the exporter ready',
      async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200 ? true : undefined),
      30_000,
      200,
    );
    return {
      child,
      url: `http://127.0.0.1:${port}`,
      port,
      simUrl,
      simPort: Number(new URL(simUrl).port),
      output,
      async stop() {
        if (!exited) child.kill('SIGINT');
        return exit;
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
