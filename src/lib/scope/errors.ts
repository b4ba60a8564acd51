import { ConflictError, IndigoError } from '../errors.js';

/**
 * Code that must only run for one site ran outside `withScope`. We fail closed: guessing a site
 * (or silently using no site) is how one tenant's data ends up in another's cache or queue.
 */
export class ScopeRequiredError extends IndigoError {
  override readonly code = 'SCOPE_REQUIRED';
}

/**
 * `withScope` was given a bare site id or slug but no resolver was configured to turn it into a
 * site context (see `configureScope`).
 */
export class ScopeNotConfiguredError extends IndigoError {
  override readonly code = 'SCOPE_NOT_CONFIGURED';
}

/**
 * A background job carries no site stamp (so there is no site to run it for), or a stamp that
 * contradicts the site its queue belongs to.
 */
export class JobScopeError extends IndigoError {
  override readonly code = 'JOB_SCOPE';
}

/** A job's site no longer accepts work: it is missing, soft-deleted or suspended. */
export class SiteUnavailableError extends ConflictError {
  override readonly code = 'SITE_UNAVAILABLE';
}

/**
 * A site transaction's fn returned, but a statement inside it had failed (its error caught or
 * never awaited), so PostgreSQL rolled the transaction back at COMMIT.
 */
export class TransactionAbortedError extends IndigoError {
  override readonly code = 'TRANSACTION_ABORTED';
}
