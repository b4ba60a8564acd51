/**
 * indigo-sites: the public library API. Everything a command can do, a program can do by
 * calling the same function exported here. Nothing here imports the CLI layer.
 */
export * from './lib/errors.js';
export { startEmbeddedPostgres, defaultDataDir, type EmbeddedServer } from './lib/db/embedded.js';
