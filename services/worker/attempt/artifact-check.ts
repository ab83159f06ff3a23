/**
 * The worker's signature check of an attempt, before anything of it runs
 * (no env provisioned, no guest started). The worker trusts nothing the
 * Sentinel says about the artifact: it recomputes the artifact hash from the
 * source, lockfile and manifest JSON it received, and verifies the
 * publisher's signature over that hash, the plugin name and the version
 * against its own trusted keys (services/common/signing/). A signed artifact
 * also binds what the worker does with it: the env it runs in must be the
 * signed lockfile's, and the manifest settings it applies (env_allow, limits,
 * isolation) must be the signed manifest's.
 *
 * Policy (TrustPolicy): signatures are required unless the worker runs with
 * --allow-unsigned; a signed plugin is verified either way.
 */
import { JobErrors, type JobError } from '../../common/job-error';
import { artifactHash, envHashOfLockfile } from '../../common/signing/artifact-hash';
import { verifyArtifact } from '../../common/signing/signature';
import type { TrustPolicy } from '../../common/signing/trust';
import type { AttemptSpec } from './types';

/** The manifest settings a worker applies to an attempt. */
export interface ManifestSettings {
  envAllow: string[];
  limits: { memoryMb: number; cpuSeconds: number; openFiles: number };
  isolation: string;
}

/** The settings of a stored manifest's JSON (fields a version was published without take their defaults); throws on bad JSON. */
export function manifestSettings(manifestJson: string): ManifestSettings {
  const m = JSON.parse(manifestJson) as Partial<ManifestSettings> | null;
  if (!m || typeof m !== 'object') throw new Error('the manifest is not a JSON object');
  return {
    envAllow: Array.isArray(m.envAllow) ? m.envAllow.map(String) : [],
    limits: { memoryMb: Number(m.limits?.memoryMb ?? 0), cpuSeconds: Number(m.limits?.cpuSeconds ?? 0), openFiles: Number(m.limits?.openFiles ?? 0) },
    isolation: typeof m.isolation === 'string' ? m.isolation : '',
  };
}

const HOW_TO_SIGN =
  'publish it signed (casparian publish --sign-key KEY, with a key from casparian keygen) and give this worker the public key ' +
  '(--trusted-keys), or start the worker with --allow-unsigned (development only)';

/** undefined when the attempt may run; else the permanent error it fails with. */
export function checkArtifact(spec: AttemptSpec, trust: TrustPolicy): JobError | undefined {
  const plugin = `${spec.pluginName}@${spec.pluginVersion}`;
  const { signature, signingKeyId, manifestJson } = spec.artifact;
  if (signature.length === 0 && signingKeyId === '') {
    if (trust.allowUnsigned) return undefined;
    return JobErrors.signatureRequired(`plugin ${plugin} is not signed and this worker runs signed plugins only: ${HOW_TO_SIGN}`);
  }
  const invalid = (why: string): JobError => JobErrors.signatureInvalid(`plugin ${plugin}: ${why}; it was not run`);
  if (signature.length === 0) return invalid(`it names signing key ${signingKeyId} but carries no signature`);
  const key = trust.keys.get(signingKeyId);
  if (!key) {
    const known = [...trust.keys.keys()];
    return invalid(
      `it is signed by key ${signingKeyId || '(none named)'}, which this worker does not trust ` +
        `(trusted: ${known.length ? known.join(', ') : 'none'}); add its public key to the worker's --trusted-keys`,
    );
  }
  const computed = artifactHash(spec.source, spec.lockfile, manifestJson);
  if (!verifyArtifact(key, { name: spec.pluginName, version: spec.pluginVersion, artifactHash: computed }, signature)) {
    const claimed = spec.artifact.artifactHash && spec.artifact.artifactHash !== computed ? ` (the Sentinel's record says ${spec.artifact.artifactHash})` : '';
    return invalid(
      `the signature by key ${signingKeyId} does not verify for the artifact this worker received (sha256 ${computed}${claimed}): ` +
        'its source, lockfile or manifest changed after signing, or the signature was made for another plugin name or version',
    );
  }
  if (spec.envHash !== envHashOfLockfile(spec.lockfile)) return invalid(`the env hash ${spec.envHash} is not the signed lockfile's`);
  let signed: ManifestSettings;
  try {
    signed = manifestSettings(manifestJson);
  } catch (err) {
    return invalid(`the signed manifest cannot be read: ${(err as Error).message}`);
  }
  const applied: ManifestSettings = { envAllow: spec.envAllow, limits: spec.limits, isolation: spec.isolation };
  if (JSON.stringify(applied) !== JSON.stringify(signed)) {
    return invalid(`the settings sent with it (${JSON.stringify(applied)}) are not those of its signed manifest (${JSON.stringify(signed)})`);
  }
  return undefined;
}
