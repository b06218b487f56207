// /admit alone over a real port: the router, the service and a store, on a cache the test fills.
import express from 'express';
import { AdmissionService } from '../../src/admission/service.js';
import type { Config } from '../../src/config/load.js';
import { createAdmitRouter } from '../../src/http/admit.js';
import { silentLogger } from '../../src/log.js';
import type { SnapshotCache } from '../../src/snapshot/cache.js';
import type { AdmissionStore } from '../../src/store/types.js';
import { listenLocal } from './net.js';

export async function startAdmitApp(opts: { cache: SnapshotCache; config: Config; store: AdmissionStore }) {
  const clock = { now: () => Date.now() };
  const service = new AdmissionService({ ...opts, clock, logger: silentLogger });
  const app = express();
  app.use(createAdmitRouter({ cache: opts.cache, config: opts.config, service, logger: silentLogger }));
  const { server, url } = await listenLocal(app);
  return {
    url,
    service,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
