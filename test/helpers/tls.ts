// Certificates made for a test with the openssl CLI: a CA, and leaves it signs for 127.0.0.1 (servers) or for a
// client. Real PEM files on disk, as an operator's would be.
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

/** A self-signed CA in `dir` (ca.key, ca.crt). */
export function makeCa(dir: string, name = 'ca'): { key: string; cert: string } {
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`],
    dir,
  );
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) };
}

/**
 * A key and certificate signed by `ca`, written under `name`.key / `name`.crt; each replaced by a rename, so a
 * reader sees the old file or the new one, never half of one. A server leaf names 127.0.0.1.
 */
export function makeLeaf(
  dir: string,
  ca: { key: string; cert: string },
  name: string,
  opts: { cn: string; client?: boolean },
): { key: string; cert: string; serial: string } {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, opts.client ? 'extendedKeyUsage=clientAuth\n' : 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${opts.cn}`, '-keyout', `${name}.key.new`, '-out', `${name}.csr`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      `${name}.crt.new`,
    ],
    dir,
  );
  const serial = openssl(['x509', '-noout', '-serial', '-in', `${name}.crt.new`], dir)
    .toString()
    .trim()
    .replace(/^serial=/, '');
  renameSync(join(dir, `${name}.key.new`), join(dir, `${name}.key`));
  renameSync(join(dir, `${name}.crt.new`), join(dir, `${name}.crt`));
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`), serial };
}

export const pem = (file: string) => readFileSync(file);
