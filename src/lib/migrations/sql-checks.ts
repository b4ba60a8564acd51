/**
 * Checks that abort a migration batch from plain SQL. PL/pgSQL's RAISE needs a DO block, which
 * PostgreSQL parses and compiles anew on every run — about a tenth of the server time of a small
 * migration, paid per site by migrate:sites. A failed integer cast raises just as well: its input
 * names the check, and checkFailure() turns the error back into the check's code and message.
 */

export interface SqlCheck {
  /** A SQL boolean expression; the batch fails when it is true. */
  failsWhen: string;
  /** Five characters, like a SQLSTATE (IX001 …); becomes the `code` of the error checkFailure returns. */
  code: string;
  message: string;
}

const MARKER = 'indigo-check:';
const CODE = /^[A-Z0-9]{5}$/;

/**
 * One SQL expression that fails at the first check whose condition holds (null otherwise). The
 * cast input includes pg_backend_pid(), a stable function, so the planner cannot fold the failing
 * branch into an error of its own before the conditions are evaluated.
 */
export function sqlChecks(checks: SqlCheck[]): string {
  if (checks.length === 0) return 'null';
  for (const check of checks) if (!CODE.test(check.code)) throw new TypeError(`invalid check code ${JSON.stringify(check.code)}`);
  const cases = checks.map((check) => `when ${check.failsWhen} then ('${MARKER}${check.code}:' || pg_backend_pid())::int`);
  return `case ${cases.join('\n  ')} end`;
}

/** The error a failed check raised, as `{ code, message }` of that check; undefined for any other error. */
export function checkFailure(error: unknown, checks: SqlCheck[]): (Error & { code: string }) | undefined {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code !== '22P02' || !message) return undefined;
  const match = new RegExp(`"${MARKER}([A-Z0-9]{5}):\\d+"`).exec(message);
  const check = match && checks.find((candidate) => candidate.code === match[1]);
  return check ? Object.assign(new Error(check.message, { cause: error }), { code: check.code }) : undefined;
}
