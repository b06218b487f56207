/**
 * `host:port` (or a bare port) for --listen. A bare port binds 127.0.0.1: nothing is exposed by accident.
 * IPv6 hosts are bracketed: `[::1]:9858`.
 */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new RangeError(`listen: expected host:port like 127.0.0.1:9858, got "${listen}"`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}
