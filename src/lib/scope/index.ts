/**
 * Site scope for host applications: which site the current request or job belongs to, and
 * everything that follows from it (search_path, Redis keys, channels, queues, purge).
 */
export {
  bindScope,
  configureScope,
  getScope,
  getScopedChannel,
  getScopedKey,
  getScopedQueueName,
  requireScope,
  withoutScope,
  withScope,
  type ResolveSite,
  type ScopeConfiguration,
  type SiteContext,
  type SiteScope,
  type WithScopeOptions,
} from './context.js';
export { JobScopeError, ScopeNotConfiguredError, ScopeRequiredError, SiteUnavailableError, TransactionAbortedError } from './errors.js';
export {
  isSiteSchemaName,
  normalizeSiteId,
  parseScopedQueueName,
  scopedKeyFor,
  scopedQueueNameFor,
  siteKeyPrefix,
  siteQueuePrefix,
  siteSearchPath,
  type SiteIdInput,
} from './names.js';
export {
  applySiteSearchPath,
  withSiteTransaction,
  type DrizzleExecutor,
  type DrizzleTransactional,
  type SearchPathTarget,
  type SiteTransactionOptions,
  type TransactionResult,
} from './transaction.js';
export { createScopedCache, type ScopedCache, type ScopedCacheOptions } from './cache.js';
export {
  purgeSiteKeys,
  purgeSiteQueues,
  purgeSiteRedis,
  type PurgeSiteKeysOptions,
  type PurgeSiteQueuesOptions,
  type PurgeSiteQueuesResult,
  type PurgeSiteRedisOptions,
  type PurgeSiteRedisResult,
  type QueuePurgeResult,
} from './purge.js';
export {
  JOB_SITE_KEY,
  addScopedJob,
  createScopedProcessor,
  createScopedWorker,
  readJobSite,
  stampJobData,
  type JobSiteStamp,
  type LoadedSite,
  type LoadSite,
  type ScopedJobData,
  type ScopedProcessorOptions,
  type ScopedWorkerOptions,
} from './jobs.js';
