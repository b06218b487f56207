import { once } from 'node:events';
import type { Server } from 'node:http';
import { createServer, type AddressInfo, type Server as NetServer } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (for child processes that need it on their command line). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** Listens on a port of 127.0.0.1 the system picks; resolves with it. */
export async function listenAnyPort(server: NetServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Serves an express app on a free port of 127.0.0.1. */
export async function listenLocal(app: { listen(port: number, host: string, cb: () => void): Server }): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
    // Longer than any test: the client drops an idle socket first, so a long synchronous step in the test
    // cannot make the server close one the client is about to reuse (ECONNRESET).
    s.keepAliveTimeout = 120_000;
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
