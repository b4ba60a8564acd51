/**
 * Host → site, for a host application's proxy. A host resolves through a verified custom domain,
 * else as `<slug>.<base domain>`; unverified domains and soft-deleted sites never resolve, a
 * suspended site resolves with `status: 'suspended'` (the application decides what to show).
 *
 * `createSiteResolver` caches answers in-process (LRU, TTL, negative answers too, bounded) and
 * drops its cache whenever PostgreSQL announces a change to sites or domains on
 * SITES_CHANGED_CHANNEL, so every process sees a change within a moment of its commit.
 */
import type { Queryable, Sql } from '../db/connect.js';
import type { Actor } from '../context.js';
import { ValidationError } from '../errors.js';
import { authorize } from '../policy.js';
import { isSiteSchemaName } from '../scope/names.js';
import { findSiteBySlug, SITES_CHANGED_CHANNEL } from '../sites/queries.js';
import { schemaNameForSlug } from '../sites/slug.js';
import type { SiteStatus } from '../sites/types.js';
import { checkMilliseconds } from '../duration.js';
import { findDomain } from './domains.js';
import { baseDomainFromEnv, isSubdomainOf, normalizeBaseDomain, normalizeHost } from './normalize.js';

export interface ResolvedSite {
  siteId: number;
  slug: string;
  schemaName: string;
  status: SiteStatus;
}

export interface ResolveHostOptions {
  sql: Queryable;
  /** The network's base domain for `<slug>.<base>` hosts; default INDIGO_BASE_DOMAIN, null for none. */
  baseDomain?: string | null;
}

export const DEFAULT_RESOLVER_TTL_MS = 60_000;
export const DEFAULT_RESOLVER_MAX_ENTRIES = 100_000;
/** Longer raw Host values are looked up but not cached, so garbage cannot fill the cache with big keys. */
const MAX_CACHED_KEY_LENGTH = 300;
const SLUG_SHAPE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function resolveBaseDomain(baseDomain: string | null | undefined): string | undefined {
  if (baseDomain === undefined) return baseDomainFromEnv();
  return baseDomain === null ? undefined : normalizeBaseDomain(baseDomain);
}

/** The slug a `<slug>.<base>` host names, or null: one label under the base domain, shaped like a slug. */
export function slugFromHost(host: string, baseDomain: string | undefined): string | null {
  if (baseDomain === undefined || !isSubdomainOf(host, baseDomain)) return null;
  const label = host.slice(0, host.length - baseDomain.length - 1);
  return SLUG_SHAPE.test(label) ? label : null;
}

/**
 * One indexed round trip: the verified custom domain wins, the slug subdomain is the fallback.
 * bench/resolve.ts runs this exact statement through pgbench as the baseline.
 */
export const RESOLVE_HOST_SQL = `
  select s.id as "siteId", s.slug, s.schema_name as "schemaName", s.status, 0 as rank
  from public.site_domains d join public.sites s on s.id = d.site_id
  where d.domain = $1 and d.verification_state = 'verified' and s.deleted_at is null
  union all
  select s.id, s.slug, s.schema_name, s.status, 1
  from public.sites s where s.slug = $2 and s.deleted_at is null
  order by rank limit 1`;

async function lookup(sql: Queryable, host: string, baseDomain: string | undefined): Promise<ResolvedSite | null> {
  const rows = await sql.unsafe<(ResolvedSite & { rank: number })[]>(RESOLVE_HOST_SQL, [host, slugFromHost(host, baseDomain)], { prepare: true });
  const row = rows[0];
  return row ? { siteId: row.siteId, slug: row.slug, schemaName: row.schemaName, status: row.status } : null;
}

/** Resolves one host without a cache (a fresh query every call); proxies want `createSiteResolver`. */
export async function resolveHost(host: string | null | undefined, options: ResolveHostOptions): Promise<ResolvedSite | null> {
  const normalized = normalizeHost(host);
  if (normalized === null) return null;
  return lookup(options.sql, normalized, resolveBaseDomain(options.baseDomain));
}

export interface SiteResolverOptions {
  /** A pool: the resolver opens its own LISTEN connection from it (postgres.js dedicates one). */
  sql: Sql;
  baseDomain?: string | null;
  /** How long an answer is trusted without a change notification. */
  ttlMs?: number;
  /** Same for "no site here"; default ttlMs. */
  negativeTtlMs?: number;
  /** Hosts kept; the least recently used one goes first. */
  maxEntries?: number;
  /** Listen for change notifications (default true). Without them only the TTL bounds staleness. */
  listen?: boolean;
  /** The LISTEN connection failed; lookups go on, bounded by the TTL, until it reconnects. */
  onError?: (error: unknown) => void;
}

export interface SiteResolver {
  /** The site `host` (a raw Host header is fine: case, port and trailing dot are normalised) belongs to, or null. */
  resolve(host: string | null | undefined): Promise<ResolvedSite | null>;
  /** `applySiteHeaders(target, this)`. */
  applySiteHeaders(target: Request | Headers, options?: ApplySiteHeadersOptions): Promise<ResolvedSite | null>;
  /** Forgets every cached answer. */
  invalidate(): void;
  /** Settles once change notifications are being received (rejects if LISTEN could not be set up). */
  readonly ready: Promise<void>;
  readonly size: number;
  /** Stops listening and empties the cache; the pool stays open (it is the caller's). */
  close(): Promise<void>;
}

interface CacheEntry {
  answer: Promise<ResolvedSite | null>;
  /** Infinity while the lookup is in flight: concurrent misses share it. */
  expiresAt: number;
}

export function createSiteResolver(options: SiteResolverOptions): SiteResolver {
  const baseDomain = resolveBaseDomain(options.baseDomain);
  const ttlMs = checkMilliseconds(options.ttlMs ?? DEFAULT_RESOLVER_TTL_MS, 'the resolver TTL');
  const negativeTtlMs = checkMilliseconds(options.negativeTtlMs ?? ttlMs, 'the resolver negative TTL');
  const maxEntries = options.maxEntries ?? DEFAULT_RESOLVER_MAX_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new ValidationError(`the resolver's maxEntries must be a whole number ≥ 1 (got ${maxEntries})`);
  }
  const { sql } = options;
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the least
  // recently used one.
  let cache = new Map<string, CacheEntry>();
  let closed = false;

  const store = (key: string, entry: CacheEntry) => {
    if (key.length > MAX_CACHED_KEY_LENGTH) return;
    cache.delete(key);
    cache.set(key, entry);
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  };

  const miss = (host: string | null | undefined): Promise<ResolvedSite | null> => {
    const normalized = normalizeHost(host);
    if (normalized === null) {
      const answer = Promise.resolve(null);
      if (typeof host === 'string') store(host, { answer, expiresAt: Date.now() + negativeTtlMs });
      return answer;
    }
    const shared = normalized === host ? undefined : cache.get(normalized);
    if (shared !== undefined && shared.expiresAt > Date.now()) {
      store(host!, shared);
      return shared.answer;
    }
    const generation = cache;
    const entry: CacheEntry = { answer: lookup(sql, normalized, baseDomain), expiresAt: Infinity };
    entry.answer.then(
      (site) => {
        entry.expiresAt = Date.now() + (site ? ttlMs : negativeTtlMs);
      },
      () => {
        // Failures are not cached: the next request asks again.
        if (generation.get(normalized) === entry) generation.delete(normalized);
        if (generation.get(host!) === entry) generation.delete(host!);
      },
    );
    store(normalized, entry);
    if (host !== normalized) store(host!, entry);
    return entry.answer;
  };

  // A new Map rather than clear(): a lookup in flight stores nothing into the new generation.
  const invalidate = () => {
    cache = new Map();
  };

  let listening: Promise<{ unlisten(): Promise<void> }> | undefined;
  let ready = Promise.resolve();
  if (options.listen !== false) {
    // onlisten runs on the first LISTEN and after every reconnect: notifications sent while the
    // connection was down are lost, so the cache is dropped then too.
    listening = sql.listen(SITES_CHANGED_CHANNEL, invalidate, invalidate);
    ready = listening.then(() => undefined);
    // Callers that only resolve may ignore `ready`: its rejection goes to onError instead.
    ready.catch((error: unknown) => {
      if (!closed) options.onError?.(error);
    });
  }

  const resolver: SiteResolver = {
    resolve(host) {
      // The hot path: one Map lookup on the raw header value.
      if (typeof host === 'string') {
        const entry = cache.get(host);
        if (entry !== undefined && entry.expiresAt > Date.now()) {
          cache.delete(host);
          cache.set(host, entry);
          return entry.answer;
        }
      }
      return miss(host);
    },
    applySiteHeaders(target, applyOptions) {
      return applySiteHeaders(target, resolver, applyOptions);
    },
    invalidate,
    get size() {
      return cache.size;
    },
    ready,
    async close() {
      closed = true;
      invalidate();
      await listening?.then((request) => request.unlisten()).catch(() => {});
    },
  };
  return resolver;
}

/** The headers `applySiteHeaders` sets; every other `x-site-*` header is removed. */
export const SITE_HEADERS = {
  id: 'x-site-id',
  slug: 'x-site-slug',
  schema: 'x-site-schema',
  status: 'x-site-status',
} as const;
const SITE_HEADER_PREFIX = 'x-site-';

export interface ApplySiteHeadersOptions {
  /** The host to resolve; default the Host header, else the request URL's host. */
  host?: string;
}

type HeadersLike = Pick<Headers, 'get' | 'set' | 'delete' | 'keys'>;

function isHeaders(value: unknown): value is HeadersLike {
  return typeof (value as HeadersLike).get === 'function' && typeof (value as HeadersLike).set === 'function';
}

/**
 * For a proxy: removes every `x-site-*` header the client sent (before anything else, so a
 * failed lookup never lets one through), resolves the request's host and, when it belongs to a
 * site, sets x-site-id, x-site-slug, x-site-schema and x-site-status. Works on a Fetch API
 * `Request` (mutable headers) or a `Headers` object; returns the site or null.
 */
export async function applySiteHeaders(
  target: Request | Headers,
  resolver: Pick<SiteResolver, 'resolve'>,
  options: ApplySiteHeadersOptions = {},
): Promise<ResolvedSite | null> {
  const headers: HeadersLike = isHeaders(target) ? target : target.headers;
  const spoofed = [...headers.keys()].filter((name) => name.toLowerCase().startsWith(SITE_HEADER_PREFIX));
  for (const name of spoofed) headers.delete(name);
  const host = options.host ?? headers.get('host') ?? (isHeaders(target) ? null : hostOfUrl(target.url));
  const site = await resolver.resolve(host);
  if (site) {
    headers.set(SITE_HEADERS.id, String(site.siteId));
    headers.set(SITE_HEADERS.slug, site.slug);
    headers.set(SITE_HEADERS.schema, site.schemaName);
    headers.set(SITE_HEADERS.status, site.status);
  }
  return site;
}

function hostOfUrl(url: string): string | null {
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
}

export interface ExtractedSiteContext {
  siteId: number;
  schemaName: string;
  slug?: string;
  status?: SiteStatus;
}

const SITE_ID = /^[1-9][0-9]{0,15}$/;

/**
 * Reads the site that `applySiteHeaders` put on a request, from Fetch `Headers` or Node's
 * `IncomingHttpHeaders`. Null unless x-site-id is a positive integer and x-site-schema a site
 * schema name; x-site-slug and x-site-status, when present, must be well formed and agree with
 * the schema. A header given twice is malformed.
 */
export function extractSiteContext(headers: HeadersLike | Record<string, string | string[] | undefined>): ExtractedSiteContext | null {
  const read = (name: string): string | null => {
    const value = isHeaders(headers) ? headers.get(name) : headers[name];
    return typeof value === 'string' ? value : value === undefined || value === null ? null : '\u0000';
  };
  const id = read(SITE_HEADERS.id);
  const schemaName = read(SITE_HEADERS.schema);
  if (id === null || !SITE_ID.test(id) || !Number.isSafeInteger(Number(id))) return null;
  if (!isSiteSchemaName(schemaName)) return null;
  const context: ExtractedSiteContext = { siteId: Number(id), schemaName };
  const slug = read(SITE_HEADERS.slug);
  if (slug !== null) {
    if (!SLUG_SHAPE.test(slug) || schemaNameForSlug(slug) !== schemaName) return null;
    context.slug = slug;
  }
  const status = read(SITE_HEADERS.status);
  if (status !== null) {
    if (status !== 'active' && status !== 'suspended') return null;
    context.status = status;
  }
  return context;
}

export type HostMatch = 'domain' | 'subdomain';

export interface HostExplanation {
  host: string;
  /** The host as looked up; null when it is not a host name at all. */
  normalized: string | null;
  site: ResolvedSite | null;
  matchedBy: HostMatch | null;
  /** Why it resolves (or not), in one sentence. */
  reason: string;
  baseDomain: string | null;
}

/**
 * What `resolveHost` answers for `host`, and why: which rule matched, or which one stopped it
 * (unverified domain, soft-deleted site, unknown slug …). For `site:resolve`; never cached.
 */
export async function explainHost(ctx: { sql: Queryable; actor: Actor }, host: string, options: { baseDomain?: string | null } = {}): Promise<HostExplanation> {
  authorize(ctx.actor, 'site.show');
  const baseDomain = resolveBaseDomain(options.baseDomain);
  const normalized = normalizeHost(host);
  const base = { host, normalized, baseDomain: baseDomain ?? null };
  if (normalized === null) {
    return { ...base, site: null, matchedBy: null, reason: `${JSON.stringify(host)} is not a host name, so it never resolves` };
  }
  const { sql } = ctx;
  const site = await lookup(sql, normalized, baseDomain);
  const slug = slugFromHost(normalized, baseDomain);
  const domain = await findDomain(sql, normalized);
  const slugSite = slug === null ? null : await findSiteBySlug(sql, slug);
  const suspended = site?.status === 'suspended' ? ' (the site is suspended: it resolves with status suspended)' : '';

  if (site && domain?.verificationState === 'verified' && domain.siteSlug === site.slug) {
    return { ...base, site, matchedBy: 'domain', reason: `${normalized} is a verified custom domain of site "${site.slug}"${suspended}` };
  }
  if (site) {
    return { ...base, site, matchedBy: 'subdomain', reason: `${normalized} is site "${site.slug}"'s subdomain of the base domain ${baseDomain}${suspended}` };
  }
  if (domain) {
    const why = domain.siteDeleted ? `site "${domain.siteSlug}" is soft-deleted` : `it is ${domain.verificationState}, and only verified domains resolve`;
    return { ...base, site: null, matchedBy: null, reason: `${normalized} is attached to site "${domain.siteSlug}" but does not resolve: ${why}` };
  }
  if (slugSite) return { ...base, site: null, matchedBy: null, reason: `site "${slug}" is soft-deleted` };
  if (slug !== null) return { ...base, site: null, matchedBy: null, reason: `no site has the slug "${slug}"` };
  if (baseDomain !== undefined && isSubdomainOf(normalized, baseDomain)) {
    return { ...base, site: null, matchedBy: null, reason: `${normalized} is under the base domain ${baseDomain} but is not <slug>.${baseDomain}` };
  }
  const unset = baseDomain === undefined ? ' (no base domain is configured: set INDIGO_BASE_DOMAIN for <slug>.<base> hosts)' : '';
  return { ...base, site: null, matchedBy: null, reason: `no site has the domain ${normalized}${unset}` };
}
