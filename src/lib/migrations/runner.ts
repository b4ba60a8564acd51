import { createHash, randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import { actorLabel, type IndigoContext } from '../context.js';
import type { Sql } from '../db/connect.js';
import { LOCK_CLASS_SITE } from '../db/locks.js';
import { parseDuration } from '../duration.js';
import { MigrationIntegrityError, ValidationError } from '../errors.js';
import { authorize } from '../policy.js';
import type { MigrationFile, MigrationSet } from './files.js';
import {
  assertNoIntegrityProblems, listSiteTargets, parseSiteList, planSites, readSiteHistories,
  type SitePlan, type SiteSelection, type SiteTarget,
} from './history.js';
import { acquireMigrateLock, derivedClient, describeLockHolder, migrateLockCheck, LOCK_LOST_SQLSTATE, type MigrateLock, type MigrateLockHolder } from './lock.js';
import {
  historyInsert, loadSiteMigrations, MIGRATION_NOTICE_PREFIX, pendingSiteMigrations, readSiteHistory, renderSiteMigration,
  siteMigrationBatch, SITE_HISTORY_TABLE, type AppliedMigration,
} from './site.js';
import { checkFailure, sqlChecks, type SqlCheck } from './sql-checks.js';
import { splitSqlStatements } from './statements.js';

export interface MigrateSitesOptions {
  /** Sites migrated at once; the run uses at most this many connections plus one for its lock. */
  concurrency?: number;
  /** Only these slugs. */
  sites?: string[];
  /** `all` (default) or `active` (active and not soft-deleted). */
  status?: SiteSelection;
  /** Report what would run and change nothing. */
  dryRun?: boolean;
  /** lock_timeout of every statement: milliseconds or a duration such as `5s` (default 5 s; 0 waits forever). */
  lockTimeout?: number | string;
  /** statement_timeout of every statement (default 0: none). */
  statementTimeout?: number | string;
  /** How often a site that hit a lock timeout, deadlock or dropped connection is tried again (default 3). */
  retries?: number;
  /** Stop starting sites after the first failure; the rest are reported as skipped. */
  failFast?: boolean;
  /** Queue behind a running migrate:sites (default) instead of refusing with exit 4. */
  wait?: boolean;
  /** Folder of the site migrations (default: the context's, INDIGO_SITE_MIGRATIONS or the packaged set). */
  migrationsDir?: string;
  /** Progress: called synchronously as the run advances. */
  onEvent?: (event: MigrateSitesEvent) => void;
}

export interface ResolvedMigrateSitesOptions {
  concurrency: number;
  sites?: string[];
  status: SiteSelection;
  dryRun: boolean;
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  retries: number;
  failFast: boolean;
  wait: boolean;
  migrationsDir?: string;
}

export interface SiteRef {
  id: number;
  slug: string;
  schemaName: string;
}

export interface SiteMigrationError {
  message: string;
  /** SQLSTATE when PostgreSQL raised it. */
  code?: string;
  /** The migration that was running, when known. */
  migration?: string;
  detail?: string;
  hint?: string;
}

export type SiteOutcomeStatus = 'migrated' | 'up-to-date' | 'pending' | 'failed' | 'skipped';

export interface SiteOutcome extends SiteRef {
  /** `pending` only in a dry run: what would run. */
  status: SiteOutcomeStatus;
  /** Applied by this run. */
  applied: string[];
  /** Still pending after this run (in a dry run: what would run). */
  pending: string[];
  attempts: number;
  durationMs: number;
  error?: SiteMigrationError;
  /** Why a site was skipped. */
  reason?: string;
}

export interface MigrateSitesProgress {
  /** Sites with something to do. */
  total: number;
  done: number;
  migrated: number;
  failed: number;
  skipped: number;
  inFlight: number;
}

export type MigrateSitesEvent =
  | { type: 'lock-wait'; holder: MigrateLockHolder | null; description: string }
  | { type: 'planned'; sites: number; upToDate: number; toMigrate: number; migrations: string[]; progress: MigrateSitesProgress }
  | { type: 'site-start'; site: SiteRef; attempt: number; migrations: string[]; progress: MigrateSitesProgress }
  | { type: 'site-retry'; site: SiteRef; attempt: number; delayMs: number; error: SiteMigrationError; progress: MigrateSitesProgress }
  | { type: 'site-done'; outcome: SiteOutcome; progress: MigrateSitesProgress }
  | { type: 'sites-added'; sites: number; toMigrate: number; progress: MigrateSitesProgress };

export interface MigrateSitesReport {
  /** Every site migrated or already up to date (in a dry run: nothing failed to plan). */
  ok: boolean;
  dryRun: boolean;
  migrationsDir: string;
  migrations: string[];
  concurrency: number;
  /** Why the run stopped early, if it did. */
  stopped: null | { reason: 'fail-fast' | 'lock-lost'; message: string };
  summary: { sites: number; migrated: number; upToDate: number; pending: number; failed: number; skipped: number };
  sites: SiteOutcome[];
  durationMs: number;
}

/** Twice the cores, within 2..8: on 2 cores, 4 connections migrate as fast as 8 (bench/migrate-sites). */
export function defaultConcurrency(): number {
  return Math.min(8, Math.max(2, availableParallelism() * 2));
}

/** `5s`, `500ms`, `2m`, `0` or a number of milliseconds → milliseconds; `what` names the flag in the error. */
export function parseTimeout(value: string | number, what: string): number {
  return parseDuration(value, what, { bareMilliseconds: true, min: 0 });
}

function integerOption(value: number | undefined, fallback: number, min: number, max: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new ValidationError(`${what} must be a whole number from ${min} to ${max}, got ${value}`);
  return value;
}

/** Checks every option without touching the database; the command calls it before connecting. */
export function resolveMigrateSitesOptions(options: MigrateSitesOptions = {}): ResolvedMigrateSitesOptions {
  const status = options.status ?? 'all';
  if (status !== 'all' && status !== 'active') throw new ValidationError(`--status must be active or all, got ${JSON.stringify(status)}`);
  return {
    concurrency: integerOption(options.concurrency, defaultConcurrency(), 1, 64, '--concurrency'),
    sites: options.sites === undefined ? undefined : parseSiteList(options.sites),
    status,
    dryRun: options.dryRun ?? false,
    lockTimeoutMs: parseTimeout(options.lockTimeout ?? 5000, '--lock-timeout'),
    statementTimeoutMs: parseTimeout(options.statementTimeout ?? 0, '--statement-timeout'),
    retries: integerOption(options.retries, 3, 0, 100, '--retries'),
    failFast: options.failFast ?? false,
    wait: options.wait ?? true,
    migrationsDir: options.migrationsDir,
  };
}

/** Sites a worker has sent on its connection at once (see SiteMigrationRun.worker). */
const PIPELINE_DEPTH = 2;
/** Raised inside a site's transaction when its history is not what the run planned from. */
const HISTORY_CHANGED_SQLSTATE = 'IX001';
/** Worth another attempt: the site was busy or the connection dropped; nothing of the attempt stayed. */
const RETRYABLE = new Set(['55P03', '40P01', '40001', '57P01', '08006', '08003', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'ECONNRESET']);

/**
 * Brings every selected site schema to the latest site migrations.
 *
 * - One database-wide lock (see acquireMigrateLock): a second run queues (or, without `wait`,
 *   is refused) and then finds the work done.
 * - Every site's history is read and checked against the files before any DDL; a disagreement
 *   anywhere stops the run with MigrationIntegrityError (exit 4) naming sites and files.
 * - Each site: its pending migrations, history rows and audit entry in one transaction sent as
 *   one round trip, under the site's advisory lock, with lock_timeout/statement_timeout local to
 *   it. Migrations marked no-transaction run on their own (see migrateOutsideTransaction).
 * - At most `concurrency` sites run at a time, one per connection, each connection holding the
 *   next site's batch ready (see worker); a failing site does not stop the others (unless
 *   failFast); lock timeouts are retried with backoff while other sites proceed.
 * - Sites created during the run are picked up before it ends.
 */
export async function migrateSites(ctx: IndigoContext, options: MigrateSitesOptions = {}): Promise<MigrateSitesReport> {
  authorize(ctx.actor, 'site.migrate');
  const opts = resolveMigrateSitesOptions(options);
  const set = await loadSiteMigrations(opts.migrationsDir ?? ctx.siteMigrationsDir);
  const run = new SiteMigrationRun(ctx, opts, set, options.onEvent ?? (() => {}));
  return run.execute();
}

interface SiteWork {
  plan: SitePlan & { pending: MigrationFile[] };
  history: AppliedMigration[];
  applied: string[];
  attempts: number;
  readyAt: number;
  startedAt: number;
}

class SiteMigrationRun {
  private readonly started = performance.now();
  private readonly runId = randomUUID();
  /** One single-connection client per worker, so a worker can swap its connection for a dedicated one. */
  private readonly clients: Sql[];
  /** Schema → the migration its current attempt announced last (see siteMigrationBatch's `announce`). */
  private readonly running = new Map<string, string>();
  private lock?: MigrateLock;
  private outcomes = new Map<number, SiteOutcome>();
  private order: number[] = [];
  /** Per worker, the sites whose histories it read (see plan); a worker with none left takes another's. */
  private queues: SiteWork[][];
  private waiting: SiteWork[] = [];
  private stopped: MigrateSitesReport['stopped'] = null;
  private progress: MigrateSitesProgress = { total: 0, done: 0, migrated: 0, failed: 0, skipped: 0, inFlight: 0 };

  constructor(
    private readonly ctx: IndigoContext,
    private readonly opts: ResolvedMigrateSitesOptions,
    private readonly set: MigrationSet,
    private readonly emit: (event: MigrateSitesEvent) => void,
  ) {
    this.clients = Array.from({ length: opts.concurrency }, () => this.workerClient());
    this.queues = this.clients.map(() => []);
  }

  private workerClient(): Sql {
    return derivedClient(this.ctx.sql, { max: 1, onnotice: (notice) => this.onNotice(notice) });
  }

  async execute(): Promise<MigrateSitesReport> {
    // The workers connect while the lock is taken (a backend start each, in parallel); a failure
    // here surfaces again, with its context, from the first real query.
    const connecting = Promise.allSettled(this.clients.map((client) => client`select 1`));
    try {
      if (!this.opts.dryRun) {
        this.lock = await acquireMigrateLock(this.ctx.sql, {
          wait: this.opts.wait,
          onWait: (holder) => this.emit({ type: 'lock-wait', holder, description: describeLockHolder(holder) }),
        });
      }
      await connecting;
      const sites = await listSiteTargets(this.clients[0], { slugs: this.opts.sites, status: this.opts.status });
      const plans = await this.plan(sites);
      // Before any DDL: one site whose history disagrees with the files stops the whole run.
      assertNoIntegrityProblems(plans);
      const toMigrate = this.admit(plans);
      this.emit({
        type: 'planned',
        sites: sites.length,
        upToDate: sites.length - toMigrate - plans.filter((p) => p.problem).length,
        toMigrate,
        migrations: this.set.migrations.map((m) => m.name),
        progress: { ...this.progress },
      });
      if (!this.opts.dryRun) {
        await this.drain();
        await this.catchUp(new Set(sites.map((site) => site.id)));
      }
      return this.report();
    } finally {
      await Promise.all([this.lock?.release(), ...this.clients.map((client) => client.end({ timeout: 5 }))]);
    }
  }

  /**
   * Each worker reads the histories of the sites it will migrate (the site at position i goes to
   * worker i mod n, see admit): its session then has their history tables cached for the migration.
   */
  private async plan(sites: SiteTarget[]): Promise<SitePlan[]> {
    const count = this.clients.length;
    const reads = await Promise.all(this.clients.map((client, worker) => readSiteHistories(client, sites.filter((_, i) => i % count === worker))));
    return planSites(this.set, sites, new Map(reads.flatMap((histories) => [...histories])));
  }

  /** Records up-to-date and unplannable sites, queues the rest; returns how many were queued. */
  private admit(plans: SitePlan[]): number {
    let queued = 0;
    for (const [position, plan] of plans.entries()) {
      const { site } = plan;
      this.order.push(site.id);
      const unstarted = (status: SiteOutcomeStatus, pending: MigrationFile[] = []): SiteOutcome =>
        ({ ...ref(site), status, applied: [], pending: pending.map((m) => m.name), attempts: 0, durationMs: 0 });
      if (plan.problem) {
        this.progress.total += 1;
        this.finish({ ...unstarted('failed'), error: { message: plan.problem.message, ...(plan.problem.migration ? { migration: plan.problem.migration } : {}) } });
      } else if (plan.pending.length === 0) {
        this.outcomes.set(site.id, unstarted('up-to-date'));
      } else if (this.opts.dryRun) {
        this.outcomes.set(site.id, unstarted('pending', plan.pending));
        queued += 1;
      } else {
        this.progress.total += 1;
        this.queues[position % this.queues.length].push({ plan: plan as SiteWork['plan'], history: [...plan.history], applied: [], attempts: 0, readyAt: 0, startedAt: 0 });
        queued += 1;
      }
    }
    return queued;
  }

  /** Runs the queues with `concurrency` workers until they and the retry list are empty. */
  private async drain(): Promise<void> {
    await Promise.all(this.clients.map((_, index) => this.worker(index)));
    for (const work of [...this.queues.flat(), ...this.waiting]) this.skip(work, this.stopped?.message ?? 'not started');
    this.queues = this.queues.map(() => []);
    this.waiting = [];
  }

  /**
   * One worker: its connection always holds the next site's batch (PIPELINE_DEPTH), so its session
   * starts that site the moment the last one commits instead of waiting for this process, which
   * serves every worker, to read the result and answer. A site with a no-transaction migration
   * swaps the connection, so it runs alone; --fail-fast sends nothing ahead of a possible failure.
   */
  private async worker(index: number): Promise<void> {
    const depth = this.opts.failFast ? 1 : PIPELINE_DEPTH;
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const settle = async (all: boolean) => {
      await (all ? Promise.all(inFlight) : Promise.race(inFlight));
      if (failure) throw failure;
    };
    for (;;) {
      if (!this.stopped && this.lock?.lost) this.stop('lock-lost', 'this run lost its database lock (its connection was closed or terminated); run migrate:sites again');
      const work = this.stopped ? undefined : this.nextWork(index);
      if (!work) {
        if (inFlight.size > 0) await settle(false);
        else if (this.stopped || this.waiting.length === 0) return;
        else await sleep(Math.max(1, Math.min(...this.waiting.map((w) => w.readyAt)) - Date.now()));
        continue;
      }
      const alone = work.plan.pending.some((migration) => !migration.transactional);
      if (alone) await settle(true);
      const attempt: Promise<void> = this.attempt(index, work)
        .catch((error: unknown) => { failure ??= error; })
        .finally(() => inFlight.delete(attempt));
      inFlight.add(attempt);
      if (alone || inFlight.size >= depth) await settle(alone);
    }
  }

  /** The worker's next site: a retry whose backoff has passed, else its own queue's next, else one from the longest queue. */
  private nextWork(index: number): SiteWork | undefined {
    const now = Date.now();
    const ready = this.waiting.filter((work) => work.readyAt <= now);
    if (ready.length > 0) {
      this.waiting = this.waiting.filter((work) => work.readyAt > now);
      this.queues[index].unshift(...ready);
    }
    return this.queues[index].shift() ?? this.queues.reduce((longest, queue) => (queue.length > longest.length ? queue : longest)).pop();
  }

  private async attempt(worker: number, work: SiteWork): Promise<void> {
    const { site } = work.plan;
    work.attempts += 1;
    work.startedAt ||= performance.now();
    this.progress.inFlight += 1;
    this.emit({ type: 'site-start', site: ref(site), attempt: work.attempts, migrations: pendingSiteMigrations(this.set, work.history, site.schemaName).map((m) => m.name), progress: { ...this.progress } });
    try {
      await this.migrateSite(worker, work);
      this.progress.inFlight -= 1;
      this.finish(this.outcomeOf(work, work.applied.length > 0 ? 'migrated' : 'up-to-date'));
    } catch (caught) {
      this.progress.inFlight -= 1;
      const error = this.describeError(site, caught);
      this.running.delete(site.schemaName);
      if (error.code === LOCK_LOST_SQLSTATE) {
        this.stop('lock-lost', `${error.message}; run migrate:sites again`);
        this.skip(work, error.message);
      } else if (isRetryable(error) && work.attempts <= this.opts.retries && !this.stopped) {
        const delayMs = backoff(work.attempts);
        work.readyAt = Date.now() + delayMs;
        this.waiting.push(work);
        this.emit({ type: 'site-retry', site: ref(site), attempt: work.attempts, delayMs, error, progress: { ...this.progress } });
      } else if ((error.code === '3F000' || error.code === '42P01') && !(await this.siteExists(this.clients[worker], site.id))) {
        this.skip(work, 'the site was deleted during the run');
      } else {
        this.finish({ ...this.outcomeOf(work, 'failed'), error });
        if (this.opts.failFast) this.stop('fail-fast', `stopped after ${site.slug} failed (--fail-fast)`);
      }
    }
  }

  /** Applies the site's pending migrations: runs of transactional ones in one batch each, no-transaction ones on their own. */
  private async migrateSite(worker: number, work: SiteWork): Promise<void> {
    const { site } = work.plan;
    for (let replans = 0; ;) {
      const pending = pendingSiteMigrations(this.set, work.history, site.schemaName);
      if (pending.length === 0) return;
      const segment = pending[0].transactional ? takeWhile(pending, (m) => m.transactional) : [pending[0]];
      // With one migration in the batch, a failure is that migration's; with several, their notices tell.
      if (segment.length === 1) this.running.set(site.schemaName, segment[0].name);
      else this.running.delete(site.schemaName);
      const checks = this.checks(site, work.history);
      try {
        if (segment[0].transactional) await this.clients[worker].unsafe(this.transactionalBatch(site, work.history, checks, segment)).catch(translateCheckFailure(checks));
        else await this.migrateOutsideTransaction(worker, site, checks, segment[0]);
      } catch (error) {
        // Another runner (after this one lost its lock) or a site created afresh changed the
        // history since it was read: read it again and carry on from there.
        if ((error as { code?: string }).code === HISTORY_CHANGED_SQLSTATE && replans < 3) {
          replans += 1;
          work.history = await readSiteHistory(this.clients[worker], site.schemaName);
          continue;
        }
        throw error;
      }
      work.history.push(...segment.map((m) => ({ name: m.name, checksum: m.checksum, appliedAt: new Date(), durationMs: 0 })));
      work.applied.push(...segment.map((m) => m.name));
    }
  }

  /**
   * One implicit transaction (a multi-statement simple query): timeouts local to it, the site's
   * lock (the one lockSite takes), checks that the run still holds its lock and that the site's
   * history is what was planned, the migrations with their history rows, and the audit entry.
   */
  private transactionalBatch(site: SiteTarget, history: AppliedMigration[], checks: SqlCheck[], migrations: MigrationFile[]): string {
    return [
      `select set_config('lock_timeout', '${this.opts.lockTimeoutMs}ms', true), set_config('statement_timeout', '${this.opts.statementTimeoutMs}ms', true), pg_advisory_xact_lock(${LOCK_CLASS_SITE}, ${site.id});`,
      siteMigrationBatch(site.schemaName, migrations, { guard: sqlChecks(checks), announce: migrations.length > 1, historyTableExists: history.length > 0, ownTransaction: true }),
      this.auditInsert(site, migrations),
    ].join('\n');
  }

  /** The checks each site's batch runs first: this run still holds its lock, and the site's history is exactly `history`. */
  private checks(site: SiteTarget, history: AppliedMigration[]): SqlCheck[] {
    return [
      ...(this.lock ? [migrateLockCheck(this.lock.session)] : []),
      {
        failsWhen: `(select coalesce(md5(string_agg(name || ':' || checksum, ',' order by name collate "C")), '') from "${site.schemaName}".${SITE_HISTORY_TABLE}) <> '${historyFingerprint(history)}'`,
        code: HISTORY_CHANGED_SQLSTATE,
        message: `the history of ${site.schemaName} changed since this run read it`,
      },
    ];
  }

  /**
   * The audit entry of one site's migration, as SQL text because it travels in the site's batch.
   * Text values go in base64 (decoded by the server), so no actor name can break out of a literal.
   */
  private auditInsert(site: SiteTarget, migrations: Pick<MigrationFile, 'name'>[]): string {
    const text = (value: string) => `convert_from(decode('${Buffer.from(value, 'utf8').toString('base64')}', 'base64'), 'UTF8')`;
    const details = JSON.stringify({ migrations: migrations.map((m) => m.name), run: this.runId });
    return `insert into public.audit_log (actor, action, site_id, site_slug, details) values (${text(actorLabel(this.ctx.actor))}, 'site.migrate', ${site.id}, ${text(site.slug)}, ${text(details)}::jsonb);`;
  }

  /**
   * A migration marked no-transaction (CREATE INDEX CONCURRENTLY …) runs statement by statement
   * under the site's session-level advisory lock, on a connection of its own that starts with the
   * site's search_path and the run's timeouts (CONCURRENTLY cannot run inside a transaction, so no
   * transaction-local setting can reach it); the worker gives up its usual connection meanwhile, so
   * the run stays within `concurrency` + 1 connections. If a run was killed in the middle, the next
   * one starts the migration again from its first statement, so its statements must be idempotent
   * (IF NOT EXISTS); an index left INVALID by an interrupted concurrent build is dropped first when
   * the migration names it. The history row and audit entry follow once every statement succeeded.
   */
  private async migrateOutsideTransaction(worker: number, site: SiteTarget, checks: SqlCheck[], migration: MigrationFile): Promise<void> {
    await this.clients[worker].end({ timeout: 5 });
    this.clients[worker] = this.workerClient();
    let closed = false;
    const connection = derivedClient(this.ctx.sql, {
      max: 1,
      longLived: true,
      onclose: () => { closed = true; },
      settings: { search_path: `"${site.schemaName}", public`, lock_timeout: `${this.opts.lockTimeoutMs}ms`, statement_timeout: `${this.opts.statementTimeoutMs}ms` },
    });
    // postgres.js reconnects silently; a new session would not hold the site lock, so stop instead.
    const run = (text: string) => {
      if (closed) throw Object.assign(new Error(`the connection migrating ${site.schemaName} closed`), { code: 'CONNECTION_CLOSED' });
      return connection.unsafe(text);
    };
    try {
      await run(`select pg_advisory_lock(${LOCK_CLASS_SITE}, ${site.id})`);
      await run(siteMigrationBatch(site.schemaName, [], { guard: sqlChecks(checks) })).catch(translateCheckFailure(checks));
      this.running.set(site.schemaName, migration.name);
      const started = performance.now();
      // SQL text because `run` guards unsafe(); the schema name passed assertSiteSchemaName above.
      const invalid = await run(`select c.relname as name from pg_index i
        join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = '${site.schemaName}' and not i.indisvalid`);
      for (const { name } of invalid as unknown as { name: string }[]) {
        if (mentionsIdentifier(migration.sql, name)) await run(`drop index concurrently if exists "${site.schemaName}"."${name.replaceAll('"', '""')}"`);
      }
      for (const statement of splitSqlStatements(renderSiteMigration(migration, site.schemaName))) await run(statement);
      await run(`${historyInsert(site.schemaName, migration, String(Math.round(performance.now() - started)))}\n${this.auditInsert(site, [migration])}`);
    } finally {
      // Ending the session releases its advisory lock.
      await connection.end({ timeout: 5 });
    }
  }

  /** Sites created while the run went on (by an older indigo-sites, say) are migrated before it ends. */
  private async catchUp(seen: Set<number>): Promise<void> {
    for (let pass = 0; pass < 3 && !this.stopped; pass++) {
      const fresh = (await listSiteTargets(this.clients[0], { slugs: this.opts.sites, status: this.opts.status })).filter((site) => !seen.has(site.id));
      if (fresh.length === 0) return;
      for (const site of fresh) seen.add(site.id);
      // The run has changed sites already, so an integrity problem here fails that site only.
      const toMigrate = this.admit(await this.plan(fresh));
      this.emit({ type: 'sites-added', sites: fresh.length, toMigrate, progress: { ...this.progress } });
      await this.drain();
    }
  }

  /** Asked after a site's schema went missing; when even that fails, the site is reported as failed. */
  private async siteExists(sql: Sql, id: number): Promise<boolean> {
    const rows = await sql<{ id: number }[]>`select id from public.sites where id = ${id}`.catch(() => [{ id }]);
    return rows.length > 0;
  }

  private onNotice(notice: postgres.Notice): void {
    const message = String(notice.message ?? '');
    if (!message.startsWith(MIGRATION_NOTICE_PREFIX)) return;
    const [schema, name] = message.slice(MIGRATION_NOTICE_PREFIX.length).split(' ');
    this.running.set(schema, name);
  }

  private describeError(site: SiteTarget, caught: unknown): SiteMigrationError {
    const error = caught as Error & { code?: string; detail?: string; hint?: string };
    const migration = this.running.get(site.schemaName) ?? (error instanceof MigrationIntegrityError ? (error.details?.migration as string | undefined) : undefined);
    return {
      message: error.message,
      ...(error.code ? { code: error.code } : {}),
      ...(migration ? { migration } : {}),
      ...(error.detail ? { detail: error.detail } : {}),
      ...(error.hint ? { hint: error.hint } : {}),
    };
  }

  private outcomeOf(work: SiteWork, status: SiteOutcomeStatus): SiteOutcome {
    const { site } = work.plan;
    return {
      ...ref(site),
      status,
      applied: work.applied,
      pending: pendingSiteMigrations(this.set, work.history, site.schemaName).map((m) => m.name),
      attempts: work.attempts,
      durationMs: work.startedAt ? Math.round(performance.now() - work.startedAt) : 0,
    };
  }

  private skip(work: SiteWork, reason: string): void {
    this.finish({ ...this.outcomeOf(work, 'skipped'), reason });
  }

  private finish(outcome: SiteOutcome): void {
    this.outcomes.set(outcome.id, outcome);
    this.progress.done += 1;
    if (outcome.status === 'migrated') this.progress.migrated += 1;
    else if (outcome.status === 'failed') this.progress.failed += 1;
    else if (outcome.status === 'skipped') this.progress.skipped += 1;
    this.emit({ type: 'site-done', outcome, progress: { ...this.progress } });
  }

  private stop(reason: 'fail-fast' | 'lock-lost', message: string): void {
    this.stopped ??= { reason, message };
  }

  private report(): MigrateSitesReport {
    const sites = this.order.map((id) => this.outcomes.get(id)!);
    const count = (status: SiteOutcomeStatus) => sites.filter((site) => site.status === status).length;
    const summary = { sites: sites.length, migrated: count('migrated'), upToDate: count('up-to-date'), pending: count('pending'), failed: count('failed'), skipped: count('skipped') };
    return {
      ok: summary.failed === 0 && summary.skipped === 0,
      dryRun: this.opts.dryRun,
      migrationsDir: this.set.dir,
      migrations: this.set.migrations.map((m) => m.name),
      concurrency: this.opts.concurrency,
      stopped: this.stopped,
      summary,
      sites,
      durationMs: Math.round(performance.now() - this.started),
    };
  }
}

function ref(site: SiteRef): SiteRef {
  return { id: site.id, slug: site.slug, schemaName: site.schemaName };
}

function takeWhile<T>(items: T[], predicate: (item: T) => boolean): T[] {
  const end = items.findIndex((item) => !predicate(item));
  return end === -1 ? items : items.slice(0, end);
}

/** md5 of `name:checksum` pairs in byte order, matching the guard's string_agg … collate "C". */
function historyFingerprint(history: Pick<AppliedMigration, 'name' | 'checksum'>[]): string {
  if (history.length === 0) return '';
  const pairs = history.map((row) => `${row.name}:${row.checksum}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('md5').update(pairs.join(',')).digest('hex');
}

/** A catch handler that rethrows a failed check as its own error (code IX001/IX002), anything else as it is. */
function translateCheckFailure(checks: SqlCheck[]): (error: unknown) => never {
  return (error) => {
    throw checkFailure(error, checks) ?? error;
  };
}

function isRetryable(error: SiteMigrationError): boolean {
  return error.code !== undefined && RETRYABLE.has(error.code);
}

/** Exponential with jitter: 250 ms, 500 ms, 1 s … capped at 5 s, so retries of many sites spread out. */
function backoff(attempt: number): number {
  const ceiling = Math.min(5000, 250 * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** Whether `name` occurs in the SQL as a whole identifier (quoted or not). */
function mentionsIdentifier(sql: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_$])"?${escaped}"?($|[^A-Za-z0-9_$])`, 'i').test(sql);
}
