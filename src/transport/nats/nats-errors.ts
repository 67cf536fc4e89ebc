import { redactUrl, TLS_VARIABLES, type NatsTls } from './nats-connect.js';


/**
 * The stages could not be reached or started over NATS (no server, refused credentials, stages
 * that did not join in time): one clear message, no stack.
 */
export class TransportError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TransportError';
  }
}

/** A connection failure in words, without secrets; `tls`: the TLS settings the client used. */
export function describeConnectError(error: unknown, url: string, tls?: NatsTls): string {
  const err = error as Error & { code?: string };
  const name = err?.name ?? '';
  const what = err?.message ?? String(error);
  const code = `${err?.code ?? ''} ${(err?.cause as { code?: string } | undefined)?.code ?? ''}`;
  const hint = /authoriz|authentic/i.test(`${name} ${what}`)
    ? ' (the server wants credentials: set SYNTHGRAD_NATS_TOKEN, or SYNTHGRAD_NATS_USER and SYNTHGRAD_NATS_PASS, or SYNTHGRAD_NATS_CREDENTIALS_FILE)'
    : /certificate|self.signed|unable to verify|CERT_|UNABLE_TO_GET_ISSUER/i.test(`${code} ${what}`)
      ? ` (the server's TLS certificate is not trusted: set ${TLS_VARIABLES.ca} to the file of the CA that signed it)`
      : /handshake|alert|TLS/i.test(`${code} ${what}`)
        ? ` (the TLS handshake failed: if the server verifies clients, set ${TLS_VARIABLES.cert} and ${TLS_VARIABLES.key} to a certificate its CA signed)`
        : /ECONNREFUSED|connection refused/i.test(`${code} ${what}`)
          ? ' (is nats-server running there?)'
          : /timeout/i.test(`${code} ${what}`) && tls?.cert === undefined && /^tls:/i.test(url)
            ? ` (a TLS server that verifies clients drops those without a certificate: set ${TLS_VARIABLES.cert} and ${TLS_VARIABLES.key})`
            : '';
  return `cannot connect to NATS at ${redactUrl(url)}: ${what}${hint}`;
}
