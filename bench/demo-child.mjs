// The exporter under benchmark: `glue-eni-exporter demo` in a child process (the simulator stands in for AWS), from
// the built output (dist/, or GLUE_ENI_DIST: a build elsewhere), on a free port, with its /metrics at hand.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const dist = resolve(process.env.GLUE_ENI_DIST ?? new URL('../dist', import.meta.url).pathname);

export async function freePort() {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts the demo; `stdio` as for spawn. Samples every 5 s at real speed. */
export async function startDemoChild({ logLevel, stdio }) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [join(dist, 'cli.js'), 'demo', '--listen', `127.0.0.1:${port}`, '--speed', '1', '--schedule', '*/5 * * * * *', '--log-level', logLevel],
    { stdio },
  );
  /** The sum of a metric's series on /metrics. */
  const metric = async (name) => {
    const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };
  /** Poll `path` until it answers 2xx, for at most `seconds`. */
  const waitOk = async (path, seconds = 20) => {
    for (const until = Date.now() + seconds * 1000; ; ) {
      if (
        await fetch(`${base}${path}`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return;
      if (Date.now() > until) throw new Error(`${path} not OK after ${seconds} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { base, child, metric, waitOk, exited: once(child, 'exit') };
}
