/**
 * `casparian publish PLUGIN.py --lockfile FILE …`, optionally signed with
 * `--sign-key KEY` (or CASPARIAN_SIGN_KEY): the CLI compiles the manifest as
 * the Sentinel will store it, computes the artifact hash over exactly what it
 * sends, signs "name, version, artifact hash" (services/common/signing/) and
 * sends the signature with its key id. It then checks that the Sentinel
 * stored the artifact it signed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { RpcError } from '../../services/common/rpc-error';
import { artifactHash } from '../../services/common/signing/artifact-hash';
import { parsePrivateKey, signArtifact } from '../../services/common/signing/signature';
import { PublishPluginResponse, type PublishPluginRequest } from '../../services/gen/casparian/v1/sentinel';
import { printProto } from './proto-output';
import { canonicalManifest, compileManifest } from '../../services/sentinel/plugins/manifest';
import { parseSinkSpec } from '../../services/sentinel/sinks/routes';
import type { SinkRoute } from '../../services/gen/casparian/v1/types';
import type { SentinelClient } from './client';
import { UsageError, backoffFlags, intFlag, strFlag as str } from './usage';

const USAGE = 'usage: casparian publish PLUGIN.py --lockfile FILE [--name NAME] [--version V] [--sign-key KEY] [--description TEXT] [--env-allow A,B]';

export async function publish(c: SentinelClient, args: string[], flags: Flags, env: Record<string, string | undefined>): Promise<void> {
  const file = args[0];
  const lock = str(flags, 'lockfile');
  if (!file || !lock) throw new UsageError(USAGE);
  const sinks = sinkFlags(flags); // a bad --sink is a usage error before any file is read
  const req: PublishPluginRequest = {
    name: str(flags, 'name') ?? path.basename(file).replace(/\.py$/, ''),
    version: str(flags, 'version') ?? '0.1.0',
    source: fs.readFileSync(file, 'utf8'),
    lockfile: fs.readFileSync(lock, 'utf8'),
    manifest: {
      description: str(flags, 'description') ?? '',
      envAllow: (str(flags, 'env-allow') ?? '').split(',').filter(Boolean),
      timeouts: undefined,
      maxAttempts: intFlag(flags, 'max-attempts', 0),
      limits: {
        memoryMb: intFlag(flags, 'max-memory-mb', 0),
        cpuSeconds: intFlag(flags, 'max-cpu-seconds', 0),
        openFiles: intFlag(flags, 'max-open-files', 0),
      },
      backoff: backoffFlags(flags),
      isolation: str(flags, 'isolation') ?? '',
      maxConcurrency: intFlag(flags, 'max-concurrency', 0),
    },
    signature: Buffer.alloc(0),
    signingKeyId: '',
    sinks,
  };
  const keyFile = str(flags, 'sign-key') ?? (env.CASPARIAN_SIGN_KEY || undefined);
  const signedHash = keyFile ? sign(req, keyFile) : undefined;
  const res = await c.publishPlugin(req);
  const p = res.plugin!;
  if (signedHash && p.artifactHash !== signedHash) {
    throw new Error(
      `the Sentinel stored ${p.name}@${p.version} as artifact ${p.artifactHash}, but this CLI signed ${signedHash}: ` +
        'workers will refuse it (SIGNATURE_INVALID); are the CLI and the Sentinel of different versions?',
    );
  }
  if (flags.json) return printProto('PublishPluginResponse', PublishPluginResponse, res);
  const signedBy = p.signingKeyId ? `  signed by ${p.signingKeyId}` : '  unsigned';
  process.stdout.write(
    `${res.created ? 'published' : 'already published'} ${p.name}@${p.version}  env ${p.envHash.slice(0, 12)}  artifact ${p.artifactHash.slice(0, 12)}${signedBy}\n`,
  );
}

/** Sets the request's signature and key id; returns the artifact hash signed. */
function sign(req: PublishPluginRequest, keyFile: string): string {
  let keyPem: Buffer;
  try {
    keyPem = fs.readFileSync(keyFile);
  } catch (err) {
    throw new UsageError(`--sign-key (CASPARIAN_SIGN_KEY): cannot read ${keyFile}: ${(err as Error).message}`);
  }
  let key;
  try {
    key = parsePrivateKey(keyPem, `--sign-key ${keyFile}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let manifestJson: string;
  try {
    manifestJson = canonicalManifest(compileManifest(req.manifest));
  } catch (err) {
    if (err instanceof RpcError) throw new UsageError(err.message);
    throw err;
  }
  const hash = artifactHash(req.source, req.lockfile, manifestJson);
  const { signature, keyId } = signArtifact(key, { name: req.name, version: req.version, artifactHash: hash });
  req.signature = signature;
  req.signingKeyId = keyId;
  return hash;
}

/** Every --sink OUTPUT=KIND:TARGET[?mode=M] (the flag may be repeated); checked by the Sentinel. */
function sinkFlags(flags: Flags): SinkRoute[] {
  const raw = str(flags, 'sink');
  if (!raw) return [];
  return raw.split('\n').map((text) => {
    try {
      return parseSinkSpec(text);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  });
}
