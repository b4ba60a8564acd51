export * from './files.js';
export * from './site.js';
export * from './shared.js';
export * from './statements.js';
export * from './history.js';
export { acquireMigrateLock, describeLockHolder, findMigrateLockHolder, MIGRATE_APPLICATION_NAME, type LockSession, type MigrateLock, type MigrateLockHolder } from './lock.js';
export * from './runner.js';
export * from './status.js';
export * from './create.js';
