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
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    service,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
