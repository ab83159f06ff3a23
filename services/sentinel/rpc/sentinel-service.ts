/** Binds the Sentinel's handlers to the generated grpc-js service definition. */
import type { Logger } from '../../common/logger';
import { serverStream, unary } from '../../common/rpc-adapters';
import { decodeConcludeRequest, encodeFetchOutputResponse } from '../../common/bytes-codec';
import { SentinelService as GeneratedSentinelService, type SentinelServer } from '../../gen/casparian/v1/sentinel';
import type { ClientApi } from './client-api';
import { concludeHandler } from './conclude-stream';
import type { RpcContext } from './context';
import { dispatchHandler } from './dispatch-stream';
import { incomingTraceparent } from './trace-metadata';

/**
 * The generated service definition, with the bulk bytes handled by
 * bytes-codec.ts: FetchOutput's responses serialized with one copy, not
 * three; Conclude's output chunks decoded as views, not copies.
 */
export const SentinelService = {
  ...GeneratedSentinelService,
  fetchOutput: { ...GeneratedSentinelService.fetchOutput, responseSerialize: encodeFetchOutputResponse },
  conclude: { ...GeneratedSentinelService.conclude, requestDeserialize: decodeConcludeRequest },
};

/** `closing()` turns true when the Sentinel drains: open WatchJob streams then end cleanly. */
export function sentinelImplementation(api: ClientApi, deps: RpcContext, logger: Logger, closing: () => boolean): SentinelServer {
  return {
    publishPlugin: unary(logger, 'PublishPlugin', (req) => api.publishPlugin(req)),
    listPlugins: unary(logger, 'ListPlugins', (req) => api.listPlugins(req)),
    submitJob: unary(logger, 'SubmitJob', (req, call) => api.submitJob(req, incomingTraceparent(call.metadata, logger))),
    submitJobs: unary(logger, 'SubmitJobs', (req, call) => api.submitJobs(req, incomingTraceparent(call.metadata, logger))),
    getJob: unary(logger, 'GetJob', (req) => api.getJob(req)),
    listJobs: unary(logger, 'ListJobs', (req) => api.listJobs(req)),
    cancelJob: unary(logger, 'CancelJob', (req) => api.cancelJob(req)),
    retryJob: unary(logger, 'RetryJob', (req) => api.retryJob(req)),
    pausePlugin: unary(logger, 'PausePlugin', (req) => api.pausePlugin(req)),
    resumePlugin: unary(logger, 'ResumePlugin', (req) => api.resumePlugin(req)),
    listWorkers: unary(logger, 'ListWorkers', () => api.listWorkers()),
    purgeJobs: unary(logger, 'PurgeJobs', (req) => api.purgeJobs(req)),
    listDatasets: unary(logger, 'ListDatasets', (req) => api.listDatasets(req)),
    getThroughput: unary(logger, 'GetThroughput', (req) => api.getThroughput(req)),
    query: serverStream(logger, 'Query', (req, write, call) => api.query(req, write, () => call.cancelled)),
    watchJob: serverStream(logger, 'WatchJob', (req, write, call) => api.watchJob(req, write, () => call.cancelled || closing())),
    watchJobs: serverStream(logger, 'WatchJobs', (req, write, call) => api.watchJobs(req, write, () => call.cancelled || closing())),
    submitScan: serverStream(logger, 'SubmitScan', (req, write, call) => api.submitScan(req, write, () => call.cancelled, incomingTraceparent(call.metadata, logger))),
    fetchOutput: serverStream(logger, 'FetchOutput', (req, write) => api.fetchOutput(req, write)),
    dispatch: dispatchHandler(deps),
    conclude: concludeHandler(deps),
  };
}
