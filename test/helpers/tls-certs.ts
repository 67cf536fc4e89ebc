import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  /** The throwaway CA (PEM file) that signed the server's and the client's certificates. */
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
}

/** /usr/bin/openssl, or undefined when it is not installed (npm test's pretest installs it: scripts/system-requirements.ts). */
export function openssl(): string | undefined {
  return ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));
}

/**
 * Generates, in `dir`, a CA valid for a day, a server certificate it signs for 127.0.0.1 and
 * localhost, and a client certificate (P-256 keys: fast to make).
 */
export function makeCertificates(dir: string, bin: string): TestCertificates {
  const run = (...args: string[]): void => void execFileSync(bin, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=synthgrad test CA');
  const sign = (name: string, extensions: string): { cert: string; key: string } => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    run('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=synthgrad test ${name}`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  return {
    ca: join(dir, 'ca.pem'),
    server: sign('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'),
    client: sign('client', 'extendedKeyUsage=clientAuth\n'),
  };
}
