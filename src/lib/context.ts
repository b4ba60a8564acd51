import type { Sql } from './db/connect.js';

/**
 * Who performs an operation. The CLI without INDIGO_ACTOR acts as the local operator (it holds
 * the database credentials, so it has full rights); a host application passes a user.
 */
export type Actor =
  | { kind: 'operator'; name: string }
  | { kind: 'user'; userId: number; email: string; networkRole: NetworkRole };

export type NetworkRole = 'none' | 'staff' | 'superadmin';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };

export interface IndigoContext {
  sql: Sql;
  actor: Actor;
  log: Logger;
  /** Folder of the site migrations; default INDIGO_SITE_MIGRATIONS or the packaged set. */
  siteMigrationsDir?: string;
}

export function actorLabel(actor: Actor): string {
  return actor.kind === 'operator' ? actor.name : actor.email;
}
