/**
 * Where workers and clients find the Sentinel (`--sentinel`, CASPARIAN_SENTINEL,
 * the config file's `sentinelAddress`): a comma-separated list of targets,
 * each one of
 *
 *     HOST:PORT          a host name, an IPv4 address or an [IPv6] address
 *     dns:///NAME:PORT   a grpc-js target: NAME is resolved (the system's
 *                        resolver), and the channel balances over every
 *                        address it yields; `dns:NAME:PORT` is the same
 *
 * `dns://SERVER/NAME:PORT` is refused: grpc-js asks SERVER only when the
 * environment variable GRPC_NODE_USE_ALTERNATIVE_RESOLVER is set, and would
 * otherwise use the system's resolver without a word.
 *
 * Each entry is a place to fail over to: a worker moves its Dispatch stream to
 * the next entry when the stream breaks, a client sends a call to the next
 * entry when it cannot connect to the current one (rpc/sentinel-link.ts,
 * tools/cli/failover.ts).
 *
 * A `dns:` entry gets grpc-js's `round_robin` policy: the channel keeps a
 * connection to every address of the name and gives each new call to the next
 * ready one. Unary calls are spread over the replicas; a stream stays on the
 * replica it started on, and when that replica dies the stream fails and is
 * opened again on one that is still up. Plain HOST:PORT entries keep grpc-js's
 * default (`pick_first`: one connection).
 */
import type * as grpc from '@grpc/grpc-js';
import * as net from 'node:net';

/** What a valid entry looks like, for messages. */
export const TARGET_FORMS = 'HOST:PORT or dns:///NAME:PORT';

/** grpc-js schemes other than dns: none of them reaches a Sentinel's TCP port by name. */
const OTHER_SCHEMES = ['unix', 'unix-abstract', 'ipv4', 'ipv6', 'xds', 'vsock'];

const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function isHostName(host: string): boolean {
  return host.length <= 253 && host.split('.').every((l) => LABEL.test(l));
}

/** Why `hostPort` is not HOST:PORT; undefined when it is. */
function hostPortProblem(hostPort: string): string | undefined {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(hostPort);
  let host: string;
  let port: string | undefined;
  if (bracketed) {
    [host, port] = [bracketed[1], bracketed[2]];
    if (!net.isIPv6(host)) return `"${host}" in brackets is not an IPv6 address`;
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon < 0) return `has no port (write ${hostPort}:50051, say)`;
    [host, port] = [hostPort.slice(0, colon), hostPort.slice(colon + 1)];
    if (host.includes(':')) return `an IPv6 address needs brackets: [${host}]:${port}`;
    if (!host) return 'has no host';
    if (!net.isIPv4(host) && !isHostName(host)) return `"${host}" is not a host name or an IP address`;
  }
  if (port === undefined || port === '') return 'has no port';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `port "${port}" is not a number from 1 to 65535`;
  return undefined;
}

export function isDnsTarget(target: string): boolean {
  return /^dns:/i.test(target);
}

/** Why `entry` is not a target this project dials; undefined when it is. */
function targetProblem(entry: string): string | undefined {
  if (isDnsTarget(entry)) {
    // dns:NAME:PORT or dns:///NAME:PORT
    let name = entry.slice(4);
    if (name.startsWith('//')) {
      const authority = /^\/\/([^/]*)\/(.*)$/.exec(name);
      if (!authority) return 'a dns: target with "//" is dns:///NAME:PORT';
      if (authority[1]) return `a DNS server in the target ("${authority[1]}") is not taken: write dns:///${authority[2]}, resolved by the system's resolver`;
      name = authority[2];
    }
    const problem = hostPortProblem(name);
    return problem && `the name ${problem}`;
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):(\/\/)?/.exec(entry);
  if (scheme && (scheme[2] || OTHER_SCHEMES.includes(scheme[1].toLowerCase()))) {
    return `the scheme "${scheme[1]}:" is not taken here; write ${TARGET_FORMS}`;
  }
  return hostPortProblem(entry);
}

/**
 * The targets of a `--sentinel` value: its text (comma-separated) or a config
 * file's list. Entries are trimmed and empty ones skipped; throws an Error
 * naming the first bad entry, or an entry given twice, or an empty list.
 */
export function parseSentinelTargets(value: string | readonly string[]): string[] {
  const entries = (typeof value === 'string' ? value.split(',') : value).map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('no address is given');
  const seen = new Set<string>();
  for (const e of entries) {
    const problem = targetProblem(e);
    if (problem) throw new Error(`entry "${e}": ${problem}`);
    if (seen.has(e.toLowerCase())) throw new Error(`entry "${e}" is given twice`);
    seen.add(e.toLowerCase());
  }
  return entries;
}

/**
 * The channel options one target needs besides the common ones: round_robin
 * for a dns: target (and no service config from DNS TXT records, so that the
 * policy is the one documented here).
 */
export function targetChannelOptions(target: string): grpc.ChannelOptions {
  if (!isDnsTarget(target)) return {};
  return {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    'grpc.service_config_disable_resolution': 1,
  };
}
