/**
 * Why a query did not run. The class decides the gRPC status (rpc/query-api.ts):
 * a refused or failing statement is the client's to fix (INVALID_ARGUMENT),
 * a query stopped at its time limit is DEADLINE_EXCEEDED.
 */
export class InvalidQuery extends Error {
  override name = 'InvalidQuery';
}

export class QueryTimedOut extends Error {
  override name = 'QueryTimedOut';
}

export const QueryErrors = {
  invalid: (message: string): InvalidQuery => new InvalidQuery(message),
  timedOut: (seconds: number): QueryTimedOut => new QueryTimedOut(`the query ran longer than ${seconds} s and was stopped`),
};
