import type postgres from 'postgres';
import { ValidationError } from '../errors.js';
import { TransactionAbortedError } from './errors.js';

/**
 * The postgres.js side of `withSiteTransaction` for a site: a transaction on a reserved
 * connection whose BEGIN and set_config travel as one simple-protocol message, pipelined with
 * fn's first query.
 *
 * Why not `sql.begin`: it waits for BEGIN before calling fn, so set_config can at best share a
 * round trip with fn's first query and still costs a statement of its own (+20–30 % client CPU
 * per one-query transaction). Sending `begin; select set_config(…)` as one message up front
 * takes one round trip fewer than sql.begin, for about 10 % more client CPU (bench/scope.ts).
 *
 * What sql.begin did for us and we therefore do here:
 * - every query fn issues has its failure recorded (and its rejection marked handled), so a
 *   failed statement whose error fn caught, or never awaited, fails the transaction with that
 *   error instead of crashing the process with an unhandled rejection;
 * - savepoints, with the same rules inside them;
 * - ROLLBACK on any failure, COMMIT otherwise, and only then is the connection released, so no
 *   other request can borrow it in the middle of this transaction.
 * One thing it did not: a COMMIT that PostgreSQL turned into ROLLBACK is reported as a failure.
 *
 * Node 20's AsyncLocalStorage runs hooks on every promise, so the happy path below is kept to
 * one async function with as few extra promises as possible.
 */

/** postgres.js queries are Promises that carry the function executing them on the connection. */
interface PendingQuery extends Promise<unknown> {
  handler: (query: PendingQuery) => void;
}

function isPendingQuery(value: unknown): value is PendingQuery {
  return value instanceof Promise && typeof (value as Partial<PendingQuery>).handler === 'function';
}

/** Whether postgres.js has reported the reserved connection closed (see connectionGone). */
interface ConnectionState {
  gone: unknown;
  noteFailure(error: unknown): void;
}

/** The first failure among the queries of one transaction or savepoint. */
interface Failures {
  failed: boolean;
  error: unknown;
}

/**
 * The handler every query of one transaction or savepoint runs through: it records the query's
 * failure (marking the rejection handled, as sql.begin does) and then executes it as usual.
 */
function trackingHandler(
  execute: (query: PendingQuery) => void,
  failures: Failures,
  connection: ConnectionState,
): (query: PendingQuery) => void {
  const record = (error: unknown) => {
    connection.noteFailure(error);
    if (!failures.failed) {
      failures.failed = true;
      failures.error = error;
    }
  };
  return (query) => {
    query.catch(record);
    execute(query);
  };
}

/**
 * A view of the reserved connection whose queries go through `handler`. Queries are switched
 * to it when built but only report once they execute: an unexecuted query may be a fragment of
 * another one and must stay lazy.
 */
function trackedConnection(
  conn: postgres.ReservedSql<any>,
  handler: (query: PendingQuery) => void,
  savepoint: unknown,
): postgres.ReservedSql<any> {
  const track = <T>(value: T): T => {
    if (isPendingQuery(value)) value.handler = handler;
    return value;
  };
  const overrides: Record<string | symbol, unknown> = {
    savepoint,
    unsafe: (...args: Parameters<typeof conn.unsafe>) => track(conn.unsafe(...args)),
    file: (...args: Parameters<typeof conn.file>) => track(conn.file(...args)),
    // fn must not be able to hand the connection back while the transaction is open on it.
    release: undefined,
  };
  return new Proxy(conn, {
    apply: (target, thisArg, args) => track(Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args)),
    get: (target, property) => (property in overrides ? overrides[property] : Reflect.get(target, property)),
  });
}

/**
 * The error to report for a failed scope, as sql.begin chooses it: fn's own error, unless it is
 * only the "current transaction is aborted" that followed an earlier failed statement.
 */
function reportedError(thrown: boolean, fnError: unknown, failures: Failures): unknown {
  if (!thrown) return failures.error;
  if (failures.failed && (fnError as { code?: unknown } | null)?.code === '25P02') return failures.error;
  return fnError;
}

const CONNECTION_GONE = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT']);

/**
 * Whether postgres.js reported that the connection itself is gone. postgres.js 3.4.10 must then
 * not be sent anything more on it, not even ROLLBACK: the write lands on a null socket and
 * throws an uncaught TypeError (porsager/postgres#1154, #1208). Nor may the reserved connection
 * be released: release() would put the closed connection back among the open ones, while
 * postgres.js has already returned it to the pool as closed.
 *
 * Server codes such as 57P01 are deliberately not treated as "gone": when a session is killed,
 * the statement in flight gets CONNECTION_CLOSED, and postgres.js hands the stale FATAL error to
 * the first query on the reconnected session, which is alive and must be released.
 */
function connectionGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_GONE.has(code);
}

/** A string literal for the simple protocol (it has no parameters); standard_conforming_strings is on. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

type Body = (tx: any) => unknown;

export async function reservedSiteTransaction(
  sql: postgres.Sql<any>,
  searchPath: string,
  beginOptions: string,
  fn: Body,
): Promise<unknown> {
  const conn = await sql.reserve();
  // Once postgres.js reports the connection closed, nothing more may be sent on it and it must
  // not be released: postgres.js has already taken it back (see connectionGone).
  const connection: ConnectionState = {
    gone: undefined,
    noteFailure(error) {
      if (this.gone === undefined && connectionGone(error)) this.gone = error;
    },
  };
  try {
    const started = conn.unsafe(`begin ${beginOptions}; select set_config('search_path', ${literal(searchPath)}, true)`);
    const execute = (started as unknown as PendingQuery).handler;
    let savepoints = 0;

    const savepoint = async (nameOrFn: string | Body, maybeFn?: Body): Promise<unknown> => {
      const body = typeof nameOrFn === 'function' ? nameOrFn : maybeFn;
      if (typeof body !== 'function') throw new ValidationError('savepoint needs a callback');
      const name = `s${savepoints++}${typeof nameOrFn === 'string' ? `_${nameOrFn}` : ''}`;
      const failures: Failures = { failed: false, error: undefined };
      const sp = trackedConnection(conn, trackingHandler(execute, failures, connection), savepoint);
      await conn`savepoint ${conn(name)}`;
      let result: unknown;
      let thrown = false;
      let fnError: unknown;
      try {
        const pending = body(sp);
        result = Array.isArray(pending) ? await Promise.all(pending) : await pending;
      } catch (error) {
        thrown = true;
        fnError = error;
      }
      if (!thrown && !failures.failed) {
        try {
          await conn`release savepoint ${conn(name)}`;
          return result;
        } catch (error) {
          // RELEASE fails when a statement the savepoint did not await failed before it.
          if (!failures.failed) throw error;
        }
      }
      const reported = reportedError(thrown, fnError, failures);
      connection.noteFailure(reported);
      if (connection.gone === undefined) await conn`rollback to savepoint ${conn(name)}`;
      throw reported;
    };

    // BEGIN and set_config are tracked like fn's queries: being first on the connection, their
    // failure is the one reported, rather than the "transaction is aborted" errors that follow.
    const failures: Failures = { failed: false, error: undefined };
    const handler = trackingHandler(execute, failures, connection);
    const tx = trackedConnection(conn, handler, savepoint);
    (started as unknown as PendingQuery).handler = handler;
    started.execute();

    let result: unknown;
    let thrown = false;
    let fnError: unknown;
    try {
      const pending = fn(tx);
      result = Array.isArray(pending) ? await Promise.all(pending) : await pending;
    } catch (error) {
      thrown = true;
      fnError = error;
    }

    if (!thrown && !failures.failed && connection.gone === undefined) {
      let committed: postgres.RowList<postgres.Row[]>;
      try {
        committed = await conn.unsafe('commit');
      } catch (error) {
        connection.noteFailure(error);
        throw error;
      }
      if (committed.command !== 'ROLLBACK') return result;
      // COMMIT ran after every statement fn issued, so an unawaited failure is recorded by now.
      throw failures.failed
        ? failures.error
        : new TransactionAbortedError('the transaction was rolled back at COMMIT because one of its statements had failed');
    }
    // fn may have caught a savepoint's "connection closed" and returned normally.
    const reported = thrown || failures.failed ? reportedError(thrown, fnError, failures) : connection.gone;
    connection.noteFailure(reported);
    if (connection.gone === undefined) {
      try {
        await conn.unsafe('rollback');
      } catch (error) {
        connection.noteFailure(error);
      }
    }
    throw reported;
  } finally {
    if (connection.gone === undefined) conn.release();
  }
}
