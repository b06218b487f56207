// The HTTP server around the express app: bounded time for every connection, JSON answers for what Node's
// parser refuses, and a shutdown with a deadline. A client, however slow or hostile, can hold neither a socket
// nor the process for longer than these limits.
import { once } from 'node:events';
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

export interface HttpLimits {
  /** The whole request, headers and body, must arrive within this (else 408). Bodies are at most 4 KiB. */
  requestTimeoutMs: number;
  /** The request headers must arrive within this (else 408); at most requestTimeoutMs. */
  headersTimeoutMs: number;
  /** A kept-alive connection with no request in progress is closed after this. */
  keepAliveTimeoutMs: number;
  /** A socket with no traffic either way (a client that stopped reading its answer) is destroyed after this. */
  socketIdleTimeoutMs: number;
  /** On close, requests still in progress get this long; then every remaining connection is closed. */
  shutdownDeadlineMs: number;
}

/** Fixed on purpose: honest clients (Prometheus, sensors, curl) need a fraction of each. */
export const HTTP_LIMITS: Readonly<HttpLimits> = {
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  socketIdleTimeoutMs: 30_000,
  shutdownDeadlineMs: 10_000,
};

export interface HttpServer {
  server: Server;
  /** Stop accepting, let requests in progress finish until the shutdown deadline, then cut what is left. */
  close(): Promise<void>;
}

function jsonReply(status: string, error: string): string {
  const body = JSON.stringify({ error, field: 'request' });
  return (
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\n` + `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

export async function serveHttp(
  app: RequestListener,
  opts: { host: string; port: number; logger: Logger; limits?: Partial<HttpLimits> },
): Promise<HttpServer> {
  const limits = { ...HTTP_LIMITS, ...opts.limits };
  const { logger } = opts;
  const server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts above on this period (30 s by default): keep the cut-off close to them.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    app,
  );
  server.timeout = limits.socketIdleTimeoutMs;

  // Requests Node's parser refuses (unknown method, oversized headers) or that time out never reach express:
  // answer in JSON too, with the status that says what happened.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // An answer already on its way: another one would corrupt the stream (as Node's own handler reasons).
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable || err.code === 'ECONNRESET' || inFlight?.headersSent) return socket.destroy();
    const reply =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? jsonReply('408 Request Timeout', `request not received within ${limits.requestTimeoutMs / 1000} s`)
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? jsonReply('431 Request Header Fields Too Large', 'request headers too large')
          : jsonReply('400 Bad Request', 'malformed HTTP request');
    socket.end(reply);
  });

  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  server.listen(opts.port, opts.host);
  await once(server, 'listening');

  let closing: Promise<void> | undefined;
  return {
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          logger.warn(
            { connections: sockets.size, deadline_seconds: limits.shutdownDeadlineMs / 1000 },
            'shutdown deadline passed: closing the connections still open',
          );
          server.closeAllConnections();
        }, limits.shutdownDeadlineMs);
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
