import { ValidationError } from '../errors.js';

/**
 * Pure naming rules for everything a site owns outside its schema: Redis keys, pub/sub channels,
 * BullMQ queues, and the search_path value for its schema. Every function validates its input
 * because these strings end up in SQL, in Redis glob patterns and in queue names, where one
 * stray `:` or `*` would make two sites share (or purge) each other's data.
 */

/** Site schemas are `site_` + slug with `-` → `_` (DESIGN.md, "Names and normalisation"). */
const SCHEMA_NAME = /^site_[a-z0-9_]+$/;
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Site ids are bigints in the network tables; we also accept opaque ids (UUIDs) but never the
 * separators used below (`:` for keys, `.` for queues) or Redis glob characters, so a key
 * prefix can never be a prefix of another site's prefix once its separator is appended.
 */
const SITE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export type SiteIdInput = string | number | bigint;

/** Returns the canonical (string) form of a site id, or throws ValidationError. */
export function normalizeSiteId(siteId: SiteIdInput): string {
  if (typeof siteId === 'number') {
    if (!Number.isSafeInteger(siteId) || siteId < 0) {
      throw new ValidationError(`site id must be a non-negative integer, got ${siteId}`, { siteId });
    }
    return String(siteId);
  }
  if (typeof siteId === 'bigint') {
    if (siteId < 0n) throw new ValidationError(`site id must be non-negative, got ${siteId}`, { siteId: String(siteId) });
    return siteId.toString();
  }
  if (typeof siteId !== 'string' || !SITE_ID.test(siteId)) {
    throw new ValidationError(
      `site id must be 1-64 letters, digits, '_' or '-', got ${JSON.stringify(siteId)}`,
      { siteId },
    );
  }
  return siteId;
}

export function isSiteSchemaName(value: unknown): value is string {
  return typeof value === 'string' && SCHEMA_NAME.test(value) && Buffer.byteLength(value) <= MAX_IDENTIFIER_BYTES;
}

/** Throws ValidationError unless `schemaName` is a site schema name (`site_[a-z0-9_]+`, ≤ 63 bytes). */
export function assertSiteSchemaName(schemaName: unknown): string {
  if (!isSiteSchemaName(schemaName)) {
    throw new ValidationError(
      `not a site schema name: ${JSON.stringify(schemaName)} (expected site_[a-z0-9_]+, at most 63 bytes)`,
      { schemaName },
    );
  }
  return schemaName;
}

/** Quotes an identifier the way PostgreSQL's quote_ident does for names that need quoting. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The search_path for a site: its schema first, then `public` for the network tables and
 * extensions. The schema name is validated and quoted, so the value can be handed to
 * `set_config` as a parameter without any chance of injecting another path element.
 */
export function siteSearchPath(schemaName: string): string {
  return `${quoteIdentifier(assertSiteSchemaName(schemaName))}, public`;
}

/** `site:<siteId>:` — what every Redis key and channel of the site starts with. */
export function siteKeyPrefix(siteId: SiteIdInput): string {
  return keyPrefixOf(normalizeSiteId(siteId));
}

/** siteKeyPrefix for an id normalizeSiteId already returned (withScope builds it once per scope). */
export function keyPrefixOf(normalizedSiteId: string): string {
  return `site:${normalizedSiteId}:`;
}

export function scopedKeyFor(siteId: SiteIdInput, key: string): string {
  return siteKeyPrefix(siteId) + key;
}

/**
 * BullMQ refuses `:` in queue names (it uses `:` to build its own keys), so a site's queue is
 * `site.<siteId>.<name>` rather than `site:<siteId>:<name>`. The site id cannot contain `.`,
 * so the name parses back unambiguously (see `parseScopedQueueName`).
 */
export function siteQueuePrefix(siteId: SiteIdInput): string {
  return queuePrefixOf(normalizeSiteId(siteId));
}

/** siteQueuePrefix for an id normalizeSiteId already returned. */
export function queuePrefixOf(normalizedSiteId: string): string {
  return `site.${normalizedSiteId}.`;
}

export function assertQueueName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes(':')) {
    throw new ValidationError(`queue name must be a non-empty string without ':', got ${JSON.stringify(name)}`, {
      name,
    });
  }
  return name;
}

export function scopedQueueNameFor(siteId: SiteIdInput, name: string): string {
  return siteQueuePrefix(siteId) + assertQueueName(name);
}

/** Splits `site.<siteId>.<name>` back into its parts; null for a queue that belongs to no site. */
export function parseScopedQueueName(queueName: string): { siteId: string; name: string } | null {
  const match = /^site\.([A-Za-z0-9_-]{1,64})\.([^:]+)$/.exec(queueName);
  return match ? { siteId: match[1]!, name: match[2]! } : null;
}

/** Escapes Redis glob metacharacters so a literal prefix can be used in `SCAN MATCH`. */
export function escapeRedisGlob(literal: string): string {
  return literal.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}
