// /admit alone over a real port: the router, the service and a store, on a cache the test fills.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { AdmissionService } from '../../src/admission/service.js';
import type { Config } from '../../src/config/load.js';
import { createAdmitRouter } from '../../src/http/admit.js';
import { silentLogger } from '../../src/log.js';
import type { SnapshotCache } from '../../src/snapshot/cache.js';
import type { AdmissionStore } from '../../src/store/types.js';

export async function startAdmitApp(opts: { cache: SnapshotCache; config: Config; store: AdmissionStore }) {
  const clock = { now: () => Date.now() };
  const service = new AdmissionService({ ...opts, clock, logger: silentLogger });
  const app = express();
  app.use(createAdmitRouter({ cache: opts.cache, config: opts.config, service, logger: silentLogger }));
  const server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
    // Longer than any test: the client drops an idle socket first, so a long synchronous step in the test
    // cannot make the server close one the client is about to reuse (ECONNRESET).
    s.keepAliveTimeout = 120_000;
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    service,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
