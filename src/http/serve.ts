// The HTTP server around the express app: bounded time for every connection, JSON answers for what Node's
// parser refuses, and a shutdown with a deadline. A client, however slow or hostile, can hold neither a socket
// nor the process for longer than these limits.
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { createServer, IncomingMessage, ServerResponse, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { BasicAuth, clientCertAllowed, loadWebConfig, secureContextOptions, type WebConfig } from './web-config.js';

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

/** What identifies the files' content on disk without reading them: changed when one is rewritten or replaced. */
function filesSignature(web: WebConfig): string {
  const files = [web.file, web.tls?.certFile, web.tls?.keyFile, web.tls?.clientCaFile];
  return files
    .map((f) => {
      if (!f) return '';
      try {
        const st = statSync(f);
        return `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

function unauthorized(res: ServerResponse, error: string): void {
  const body = JSON.stringify({ error, field: 'authorization' });
  res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'www-authenticate': 'Basic' });
  res.end(body);
}

/** The prototypes an app gives every request and response (an express app's `request` and `response`). */
export interface MessagePrototypes {
  request: object;
  response: object;
}

/**
 * A constructor whose instances are `base`'s, born with `proto` as their prototype, for Node's documented
 * IncomingMessage / ServerResponse server options. Express swaps each request's and response's prototype for
 * its own as it enters the app (Object.setPrototypeOf); on objects born with another one, V8 kept what each
 * request allocated through young-generation collections: ~3.5 MB copied and promoted per collection, pauses of
 * 3-5 ms instead of 0.2 ms (docs/benchmarks.md). Born with it, the swap changes nothing. `base` is called on the
 * new object, as its subclasses in Node do (Reflect.construct would make a new hidden class each time); a
 * `class` cannot be, and is left alone (undefined: Node's own, swapped by express as before).
 */
function bornWith<T>(base: T, proto: object): T | undefined {
  if (/^class\b/.test(Function.prototype.toString.call(base))) return undefined;
  const init = base as unknown as (this: object, a: unknown, b: unknown) => void;
  function Born(this: object, a: unknown, b: unknown): void {
    init.call(this, a, b);
  }
  Born.prototype = proto;
  return Born as unknown as T;
}

/** The server options that make requests and responses born with the app's prototypes (none it cannot). */
function bornMessages(p: MessagePrototypes | undefined): { IncomingMessage?: typeof IncomingMessage; ServerResponse?: typeof ServerResponse } {
  const req = p && bornWith(IncomingMessage, p.request);
  const res = p && bornWith(ServerResponse, p.response);
  return req && res ? { IncomingMessage: req, ServerResponse: res } : {};
}

export async function serveHttp(
  app: RequestListener,
  opts: {
    host: string;
    port: number;
    logger: Logger;
    limits?: Partial<HttpLimits>;
    /** TLS and basic auth (`--web.config.file`); plain HTTP, open, without it. */
    web?: WebConfig;
    /** The prototypes `app` gives requests and responses: they are born with them. */
    prototypes?: MessagePrototypes;
  },
): Promise<HttpServer> {
  const limits = { ...HTTP_LIMITS, ...opts.limits };
  const { logger } = opts;
  let web = opts.web;
  const auth = new BasicAuth(web?.users ?? new Map());
  // Basic auth in front of every route: a request without the right credentials never reaches the app.
  const guarded: RequestListener = (req, res) => {
    if (!web?.users) return app(req, res);
    const header = req.headers.authorization;
    void auth.check(header).then((ok) => {
      if (ok) app(req, res);
      else unauthorized(res, header ? 'wrong user name or password' : 'authentication required (HTTP basic auth)');
    });
  };
  const serverOptions = {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two timeouts above on this period (30 s by default): keep the cut-off close to them.
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    ...bornMessages(opts.prototypes),
  };
  const server: Server = web?.tls
    ? (createHttpsServer(
        // A client that connects and never completes its handshake is cut off like one that never sends its headers.
        { ...serverOptions, handshakeTimeout: limits.requestTimeoutMs, ...secureContextOptions(web.tls) },
        guarded,
      ) as unknown as Server)
    : createServer(serverOptions, guarded);
  server.timeout = limits.socketIdleTimeoutMs;

  if (web) {
    // The web config and its certificates are re-read when they change on disk (as exporter-toolkit does), checked
    // at each new connection before its handshake: a rotated certificate serves the next connection. A file that
    // does not load (a key written before its certificate) keeps the running one, logged once per version.
    let applied = filesSignature(web);
    let refused: string | undefined;
    const file = web.file;
    server.prependListener('connection', () => {
      const sig = filesSignature(web!);
      if (sig === applied || sig === refused) return;
      try {
        const next = loadWebConfig(file);
        if (Boolean(next.tls) !== Boolean(web!.tls)) throw new Error('turning TLS on or off needs a restart');
        if (next.tls) {
          const tlsOpts = secureContextOptions(next.tls);
          // setSecureContext swaps the certificates and CA; whether to ask for a client certificate is the server's.
          Object.assign(server, { requestCert: tlsOpts.requestCert, rejectUnauthorized: tlsOpts.rejectUnauthorized });
          (server as unknown as { setSecureContext(o: object): void }).setSecureContext(tlsOpts);
        }
        auth.setUsers(next.users ?? new Map());
        web = next;
        // The files as they were before this load: one changed since is loaded again at the next connection.
        applied = sig;
        logger.info({ file, tls: Boolean(next.tls), basic_auth_users: next.users?.size ?? 0 }, 'web config reloaded');
      } catch (err) {
        refused = sig;
        logger.error({ file, err: (err as Error).message }, 'web config reload rejected; keeping the running one');
      }
    });
    if (web.tls) {
      server.on('secureConnection', (socket: TLSSocket) => {
        if (web?.tls && !clientCertAllowed(web.tls.clientAuthType, socket)) socket.destroy();
      });
    }
  }

  // Requests Node's parser refuses (unknown method, oversized headers) or that time out never reach express:
  // answer in JSON too, with the status that says what happened.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // An answer already on its way: another one would corrupt the stream (as Node's own handler reasons).
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable || err.code === 'ECONNRESET' || inFlight?.headersSent) return socket.destroy();
    // A failed or timed-out TLS handshake: no HTTP was spoken, and a plain-text answer would leave the socket open.
    if (/^ERR_(TLS|SSL)_/.test(err.code ?? '')) return socket.destroy();
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
