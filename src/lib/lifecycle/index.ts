export * from './status.js';
export * from './soft-delete.js';
export * from './hard-delete.js';
export * from './purge-cache.js';
export * from './clone.js';
export { outsideDependents, tableRowCounts, type OutsideDependent, type TableRows } from './schema-catalog.js';
export * from './stats.js';
export * from './audit.js';
