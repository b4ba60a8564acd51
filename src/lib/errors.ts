/**
 * Typed errors thrown by the library. Each carries the CLI exit code documented in the
 * README so the command layer maps errors to exit codes in one place.
 */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  partialFailure: 5,
  cancelled: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class IndigoError extends Error {
  readonly exitCode: ExitCodeValue = ExitCode.unexpected;
  readonly code: string = 'INDIGO_ERROR';
  constructor(message: string, readonly details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that breaks a documented rule (a slug, a domain, a flag value). Nothing was changed. */
export class ValidationError extends IndigoError {
  override readonly exitCode = ExitCode.usage;
  override readonly code = 'INVALID_INPUT';
}

export class NotFoundError extends IndigoError {
  override readonly exitCode = ExitCode.notFound;
  override readonly code = 'NOT_FOUND';
}

/** A conflict or a refused precondition (slug taken, database not initialised, last owner …). */
export class ConflictError extends IndigoError {
  override readonly exitCode = ExitCode.conflict;
  override readonly code: string = 'CONFLICT';
}

export class NotInitialisedError extends ConflictError {
  override readonly code = 'NOT_INITIALISED';
}

/** The actor's role does not allow the action. */
export class ForbiddenError extends ConflictError {
  override readonly code = 'FORBIDDEN';
}

/** Some items of a fan-out (migrate:sites, domain:verify --all) failed; the others succeeded. */
export class PartialFailureError extends IndigoError {
  override readonly exitCode = ExitCode.partialFailure;
  override readonly code = 'PARTIAL_FAILURE';
}

/** The database could not be reached or refused the connection. */
export class ConnectionError extends IndigoError {
  override readonly code = 'CONNECTION_FAILED';
}

/** An applied migration no longer matches its file, or the history is otherwise inconsistent. */
export class MigrationIntegrityError extends ConflictError {
  override readonly code = 'MIGRATION_INTEGRITY';
}
