import { Worker, type Job, type JobsOptions, type Processor, type Queue, type WorkerOptions } from 'bullmq';
import { ValidationError } from '../errors.js';
import { requireScope, withScope, type SiteContext } from './context.js';
import { JobScopeError, SiteUnavailableError } from './errors.js';
import { normalizeSiteId, parseScopedQueueName } from './names.js';

/**
 * Carrying a site's scope into BullMQ jobs. The producer stamps the current site id into the
 * job's data under a reserved key; the worker wrapper reloads the site by that id, refuses the
 * job unless the site is active, and runs the processor inside `withScope`. The site is
 * reloaded rather than trusted from the stamp so that a job queued before a suspension or a
 * delete does not run afterwards against the site's schema.
 */

/** The reserved key in job data that holds the site stamp. */
export const JOB_SITE_KEY = '__indigoSite';

export interface JobSiteStamp {
  siteId: string;
}

export type ScopedJobData<T> = T & { [JOB_SITE_KEY]: JobSiteStamp };

/** What a worker's `loadSite` returns: the site as stored now, or null when there is none. */
export interface LoadedSite extends SiteContext {
  /** Only `active` sites get their jobs run. */
  status: string;
  /** Soft-deleted sites are refused even if their status is still `active`. */
  deletedAt?: Date | string | null;
}

export type LoadSite = (siteId: string) => Promise<LoadedSite | null> | LoadedSite | null;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The site id stamped on job data, or null when there is no (well-formed) stamp. */
export function readJobSite(data: unknown): string | null {
  if (!isPlainObject(data)) return null;
  const stamp = data[JOB_SITE_KEY];
  if (!isPlainObject(stamp)) return null;
  try {
    return normalizeSiteId(stamp.siteId as string);
  } catch {
    return null;
  }
}

/**
 * `data` plus the current site's stamp. Throws ScopeRequiredError outside a scope, and
 * ValidationError for data that is not a plain object or already stamped for another site.
 */
export function stampJobData<T extends object>(data: T): ScopedJobData<T> {
  const scope = requireScope('enqueuing a site job');
  if (!isPlainObject(data)) {
    throw new ValidationError('job data must be a plain object to carry a site stamp');
  }
  if (JOB_SITE_KEY in data) {
    const stamped = readJobSite(data);
    if (stamped !== scope.siteId) {
      throw new ValidationError(
        `job data already carries ${JOB_SITE_KEY} for site ${JSON.stringify(stamped)}, but the current scope is site ${scope.siteId}`,
      );
    }
  }
  return { ...data, [JOB_SITE_KEY]: { siteId: scope.siteId } } as ScopedJobData<T>;
}

/** `queue.add(name, data, opts)` with the current site stamped on `data`. */
export function addScopedJob<T extends object>(
  queue: Queue,
  name: string,
  data: T,
  opts?: JobsOptions,
): Promise<Job<ScopedJobData<T>>> {
  return queue.add(name, stampJobData(data), opts) as Promise<Job<ScopedJobData<T>>>;
}

export interface ScopedProcessorOptions {
  /**
   * Loads the site by id each time a job starts (e.g. `select … from sites where id = $1`).
   * If it throws, the job fails and is retried as usual: a database hiccup is not a refusal.
   */
  loadSite: LoadSite;
}

/** Refuses the job for good: retrying cannot give it a site or revive a deleted one. */
function refuse(job: Job, error: Error): never {
  job.discard();
  throw error;
}

async function siteForJob(job: Job, loadSite: LoadSite): Promise<LoadedSite> {
  const siteId = readJobSite(job.data);
  if (siteId === null) {
    refuse(
      job,
      new JobScopeError(
        `job ${job.id} in queue ${job.queueName} carries no site; enqueue it with addScopedJob inside withScope`,
        { jobId: job.id, queue: job.queueName },
      ),
    );
  }
  const queueSite = parseScopedQueueName(job.queueName)?.siteId;
  if (queueSite !== undefined && queueSite !== siteId) {
    refuse(
      job,
      new JobScopeError(`job ${job.id} is stamped for site ${siteId} but sits in site ${queueSite}'s queue ${job.queueName}`, {
        jobId: job.id,
        queue: job.queueName,
        siteId,
      }),
    );
  }
  const site = await loadSite(siteId);
  const details = { jobId: job.id, queue: job.queueName, siteId };
  if (!site) refuse(job, new SiteUnavailableError(`job ${job.id} refused: site ${siteId} no longer exists`, details));
  if (normalizeSiteId(site.siteId) !== siteId) {
    refuse(job, new JobScopeError(`job ${job.id} refused: loadSite(${siteId}) returned site ${String(site.siteId)}`, details));
  }
  const name = site.slug ? `site ${siteId} (${site.slug})` : `site ${siteId}`;
  if (site.deletedAt) refuse(job, new SiteUnavailableError(`job ${job.id} refused: ${name} is deleted`, details));
  if (site.status !== 'active') {
    refuse(job, new SiteUnavailableError(`job ${job.id} refused: ${name} is ${site.status}`, { ...details, status: site.status }));
  }
  return site;
}

/**
 * Wraps a BullMQ processor so it runs inside `withScope` for the job's site. Jobs without a
 * stamp, with a stamp for another site's queue, or whose site is missing, soft-deleted or not
 * active fail at once with JobScopeError / SiteUnavailableError and are not retried.
 */
export function createScopedProcessor<T = any, R = any, N extends string = string>(
  processor: Processor<T, R, N>,
  options: ScopedProcessorOptions,
): Processor<T, R, N> {
  if (typeof options?.loadSite !== 'function') {
    throw new ValidationError('createScopedProcessor needs a loadSite(siteId) function');
  }
  return async (job, token, signal) => {
    const site = await siteForJob(job as Job, options.loadSite);
    return withScope(site, () => processor(job, token, signal));
  };
}

export interface ScopedWorkerOptions extends WorkerOptions, ScopedProcessorOptions {}

/** `new Worker(queueName, createScopedProcessor(processor, { loadSite }), workerOptions)`. */
export function createScopedWorker<T = any, R = any, N extends string = string>(
  queueName: string,
  processor: Processor<T, R, N>,
  options: ScopedWorkerOptions,
): Worker<T, R, N> {
  const { loadSite, ...workerOptions } = options;
  return new Worker<T, R, N>(queueName, createScopedProcessor(processor, { loadSite }), workerOptions);
}
