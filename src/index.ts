/**
 * indigo-sites: the public library API. Everything a command can do, a program can do by
 * calling the same function exported here. Nothing here imports the CLI layer.
 */
export * from './lib/errors.js';
export * from './lib/context.js';
export { openDatabase, createPool, type DatabaseHandle, type OpenDatabaseOptions, type Sql, type Tx, type Queryable } from './lib/db/connect.js';
export { startEmbeddedPostgres, defaultDataDir, type EmbeddedServer } from './lib/db/embedded.js';
export * as schema from './lib/db/schema.js';
export * as siteSchema from './lib/db/site-schema.js';
export { recordAudit, type AuditEntry, type AuditEntryInput } from './lib/audit.js';
export * from './lib/migrations/index.js';
export * from './lib/network/init.js';
export * from './lib/policy.js';
export * from './lib/sites/index.js';
export * from './lib/users/index.js';
export * from './lib/members/index.js';
export * from './lib/actor.js';
export * from './lib/domains/index.js';
export * from './lib/lifecycle/index.js';
export * from './lib/scope/index.js';
export { parseDuration, formatDuration, type DurationOptions } from './lib/duration.js';
