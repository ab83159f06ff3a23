/**
 * SubmitScan: walk a directory inside the input roots and queue one job per
 * new or changed matching file, as one batch, streaming progress and ending
 * with a summary (see the proto comment for why a stream). The walk, the
 * identity decisions and the chunked commits live in ../scan.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import { invalidArgument, notFound, RpcError, unavailable } from '../../common/rpc-error';
import { traceFields } from '../../common/trace-context';
import { optionalVersion, requireAbsolutePath, requireName } from '../../common/validate';
import type { SubmitScanRequest, SubmitScanResponse } from '../../gen/casparian/v1/sentinel';
import { jobSettings, parseManifest } from '../plugins/manifest';
import { findPlugin } from '../plugins/registry';
import { readScannedFiles } from '../queue';
import { compileGlob } from '../scan/scan-glob';
import { runScan, type ScanProgress } from '../scan/scanner';
import { walkFiles } from '../scan/walk';
import type { ClientApiDeps } from './context';
import { checkInputRoots } from './input-roots';
import { jobMaker, queueControls } from './queue-controls';

/** `isCancelled`: the client went away. A Sentinel that stops accepting work ends the scan as interrupted. */
export async function submitScanRpc(
  d: ClientApiDeps,
  req: SubmitScanRequest,
  write: (m: SubmitScanResponse) => Promise<void>,
  isCancelled: () => boolean,
  traceparent?: string,
): Promise<void> {
  if (!d.accepting()) throw unavailable('the Sentinel is shutting down and accepts no new jobs');
  const pluginName = requireName('plugin_name', req.pluginName);
  const version = optionalVersion('plugin_version', req.pluginVersion);
  const root = requireAbsolutePath('root', req.root);
  try {
    checkInputRoots(root, d.cfg.inputRoots);
  } catch (e) {
    throw e instanceof RpcError ? new RpcError(e.code, `root: ${e.message}`) : e;
  }
  const match = compileGlob(req.glob);
  const plugin = await findPlugin(d.db, pluginName, version || undefined);
  if (!plugin) throw notFound(version ? `plugin ${pluginName} version ${version} is not published` : `plugin ${pluginName} is not published`);
  const settings = jobSettings(req, parseManifest(plugin), { maxAttempts: d.cfg.defaultMaxAttempts, timeouts: d.cfg.timeouts });
  const controls = queueControls(req, d.clock.now());
  const st = await fs.stat(root).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') throw notFound(`root ${root} does not exist`);
    throw invalidArgument(`root ${root} cannot be read: ${e.message}`);
  });
  if (!st.isDirectory()) throw invalidArgument(`root ${root} is not a directory: give the directory to scan (and --glob to pick files)`);

  const batch = { id: crypto.randomUUID(), pluginName, pluginVersion: plugin.version };
  const pb = (p: ScanProgress, done: boolean): SubmitScanResponse => ({
    batchId: p.enqueued > 0 ? batch.id : '',
    pluginVersion: plugin.version,
    matched: p.matched,
    enqueued: p.enqueued,
    skipped: p.skipped,
    errors: p.errors,
    done,
    errorFiles: done ? p.errorFiles : [],
    interrupted: p.interrupted,
  });
  const allowed = (file: string): boolean => {
    try {
      checkInputRoots(file, d.cfg.inputRoots);
      return true;
    } catch {
      return false;
    }
  };
  const started = Date.now();
  const summary = await runScan(walkFiles(root, { match, allowed }), {
    read: (paths) => readScannedFiles(d.db, pluginName, paths),
    commit: (jobs, files) => d.lifecycle.scanChunkSubmitted({ batch, jobs, files }),
    newJob: jobMaker(plugin, { traceparent, ...settings, ...controls }),
    progress: (p) => write(pb(p, false)),
    stopped: () => isCancelled() || !d.accepting(),
  });
  if (isCancelled()) return;
  d.logger.info('scan finished', {
    root,
    plugin: `${pluginName}@${plugin.version}`,
    batchId: summary.enqueued > 0 ? batch.id : undefined,
    matched: summary.matched,
    enqueued: summary.enqueued,
    skipped: summary.skipped,
    errors: summary.errors,
    interrupted: summary.interrupted,
    ms: Date.now() - started,
    ...traceFields(traceparent),
  });
  await write(pb(summary, true));
}
