/**
 * TLS for both servers and every client (the worker's link to the Sentinel,
 * the CLI). One set of settings serves a process in both directions:
 *
 *  - `--tls-cert` + `--tls-key` (PEM): a server presents them; a client
 *    presents them as its client certificate (mTLS);
 *  - `--tls-ca` (PEM): a server checks client certificates against it; a
 *    client checks the server's certificate against it (else the system's
 *    roots);
 *  - `--require-client-cert`: a server refuses clients without a certificate
 *    that chains to `--tls-ca`.
 *
 * Each has a `CASPARIAN_TLS_*` variable (`CASPARIAN_TLS_CERT`, `_KEY`, `_CA`,
 * `_REQUIRE_CLIENT_CERT=1`) and a config file key (config/settings.ts).
 * Files are read once, when the config is compiled, so a missing or
 * unreadable file fails at startup naming the setting.
 *
 * Plaintext stays the default only on loopback: a server bound to any other
 * address without TLS refuses to start unless `--insecure` (or
 * `CASPARIAN_INSECURE=1`) says so on purpose.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from './config-error';
import { openSources, resolve, type Sources } from './config/resolve';
import type { TlsMaterial } from './tls-material';

type Flags = Record<string, string | boolean | undefined>;
type Env = Record<string, string | undefined>;

export type { TlsMaterial };

function readPem(file: string | undefined, setting: string): Buffer | undefined {
  if (file === undefined || file === '') return undefined;
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError(`${setting}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!data.includes('-----BEGIN ')) throw new ConfigError(`${setting}: ${file} is not PEM (no "-----BEGIN" line)`);
  return data;
}

/** The TLS settings a service reads (flags, CASPARIAN_TLS_*, config file); undefined when none is set (plaintext). */
export function resolveTls(src: Sources): Readonly<TlsMaterial> | undefined {
  const pem = (key: 'tlsCert' | 'tlsKey' | 'tlsCa'): Buffer | undefined => {
    const r = resolve(src, key);
    return readPem(r.value, r.label);
  };
  const cert = pem('tlsCert');
  const key = pem('tlsKey');
  const ca = pem('tlsCa');
  const requireClientCert = resolve(src, 'requireClientCert').value === true;
  if (!!cert !== !!key) throw new ConfigError('--tls-cert and --tls-key (CASPARIAN_TLS_CERT, CASPARIAN_TLS_KEY) go together: give both or neither');
  if (requireClientCert && !ca) throw new ConfigError('--require-client-cert needs --tls-ca (CASPARIAN_TLS_CA): the CA that client certificates must chain to');
  if (requireClientCert && !cert) throw new ConfigError('--require-client-cert needs --tls-cert and --tls-key: a server that checks clients serves TLS itself');
  if (!cert && !ca) return undefined;
  return Object.freeze({ cert, key, ca, requireClientCert });
}

/** A client's TLS settings (flags, CASPARIAN_TLS_*, the config file's top level). */
export function compileTls(flags: Flags, env: Env): Readonly<TlsMaterial> | undefined {
  return resolveTls(openSources(flags, env, 'client'));
}

/** Whether plaintext on a non-loopback address was asked for on purpose (--insecure, CASPARIAN_INSECURE=1). */
export function insecureAllowed(flags: Flags, env: Env): boolean {
  return resolve(openSources(flags, env, 'sentinel'), 'insecure').value === true;
}

/** True for 127.0.0.0/8, ::1 and "localhost": addresses other hosts cannot reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  return h === '::1';
}

/** Throws a ConfigError when a server would serve plaintext on an address other hosts can reach, not asked for with --insecure. */
export function checkPlaintext(tls: Readonly<TlsMaterial> | undefined, host: string, allowInsecure: boolean, what: string): void {
  if (tls?.cert || isLoopback(host) || allowInsecure) return;
  throw new ConfigError(
    `${what} would serve plaintext on ${host}, which other hosts can reach: give it --tls-cert and --tls-key, ` +
      `bind it to loopback, or pass --insecure (CASPARIAN_INSECURE=1) to serve plaintext anyway`,
  );
}

/** A server's credentials; refuses plaintext on a non-loopback address unless `allowInsecure`. */
export function serverCredentials(tls: Readonly<TlsMaterial> | undefined, host: string, allowInsecure: boolean, what: string): grpc.ServerCredentials {
  checkPlaintext(tls, host, allowInsecure, what);
  if (tls?.cert && tls.key) {
    return grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.requireClientCert);
  }
  return grpc.ServerCredentials.createInsecure();
}

/** A client's credentials: TLS when any TLS setting is given (its cert and key as the client certificate), else plaintext. */
export function channelCredentials(tls: Readonly<TlsMaterial> | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

/** How a server is secured, for its startup log line. */
export function tlsMode(tls: Readonly<TlsMaterial> | undefined): 'plaintext' | 'tls' | 'mtls' {
  if (!tls?.cert) return 'plaintext';
  return tls.requireClientCert ? 'mtls' : 'tls';
}
