/**
 * Why a query did not run. The class decides the gRPC status (rpc/dataset-api.ts):
 * a refused or failing statement is the client's to fix (INVALID_ARGUMENT),
 * a query stopped at its time limit is DEADLINE_EXCEEDED, and views that could
 * not be built (a purge removed files between the listing and the query) are
 * UNAVAILABLE: the same request can succeed at once.
 */
export class InvalidQuery extends Error {
  override name = 'InvalidQuery';
}

export class QueryTimedOut extends Error {
  override name = 'QueryTimedOut';
}

export class DatasetsChanged extends Error {
  override name = 'DatasetsChanged';
}

export const QueryErrors = {
  datasetsChanged: (detail: string): DatasetsChanged => new DatasetsChanged(`the datasets changed while the query started (${detail}); send it again`),
  invalid: (message: string): InvalidQuery => new InvalidQuery(message),
  timedOut: (seconds: number): QueryTimedOut => new QueryTimedOut(`the query ran longer than ${seconds} s and was stopped`),
};
