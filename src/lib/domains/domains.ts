/**
 * Custom domains of sites: add (with a fresh verification token), renew, remove, list and choose
 * the primary one. Every change runs in one transaction with its audit entry and a notification
 * that makes every `createSiteResolver` cache drop what it knows.
 */
import { recordAudit } from '../audit.js';
import type { Queryable, Tx } from '../db/connect.js';
import type { Actor, IndigoContext } from '../context.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { authorize } from '../policy.js';
import { getSiteBySlug, notifySiteChanged } from '../sites/queries.js';
import type { Site } from '../sites/types.js';
import { challengeRecord, createVerificationToken, type ChallengeRecord } from './dns-check.js';
import { checkMilliseconds } from '../duration.js';
import { ancestorDomains, baseDomainFromEnv, normalizeDomain } from './normalize.js';

export const DOMAIN_STATES = ['pending', 'verified', 'failed'] as const;
export type DomainState = (typeof DOMAIN_STATES)[number];

/** How long a pending domain's token may be published before it must be renewed. */
export const DEFAULT_TOKEN_TTL_MS = 7 * 86_400_000;

export interface SiteDomain {
  id: number;
  siteId: number;
  siteSlug: string;
  /** The site is soft-deleted: its domains stay attached (and refuse other sites) but never resolve. */
  siteDeleted: boolean;
  domain: string;
  isPrimary: boolean;
  verificationState: DomainState;
  token: string;
  /** When an unverified token stops counting; null while the domain is verified. */
  tokenExpiresAt: Date | null;
  /** True for a pending or failed domain whose token has expired: renew it with `domain:add --renew`. */
  tokenExpired: boolean;
  verifiedAt: Date | null;
  lastCheckedAt: Date | null;
  lastError: string | null;
  /** Start of the current run of failed checks of a verified domain (the grace period counts from here). */
  firstFailedAt: Date | null;
  createdAt: Date;
}

function domainColumns(sql: Queryable) {
  return sql`d.id, d.site_id as "siteId", s.slug as "siteSlug", s.deleted_at is not null as "siteDeleted", d.domain, d.is_primary as "isPrimary",
    d.verification_state as "verificationState", d.token, d.token_expires_at as "tokenExpiresAt",
    (d.verification_state <> 'verified' and d.token_expires_at is not null and d.token_expires_at <= now()) as "tokenExpired",
    d.verified_at as "verifiedAt", d.last_checked_at as "lastCheckedAt", d.last_error as "lastError",
    d.first_failed_at as "firstFailedAt", d.created_at as "createdAt"`;
}

export async function findDomain(sql: Queryable, domain: string, options: { forUpdate?: boolean } = {}): Promise<SiteDomain | null> {
  const [row] = await sql<SiteDomain[]>`
    select ${domainColumns(sql)} from public.site_domains d join public.sites s on s.id = d.site_id
    where d.domain = ${domain} ${options.forUpdate ? sql`for update of d` : sql``}`;
  return row ?? null;
}

/** A domain as stored: the same spelling rules as `normalizeDomain`, without the base-domain policy (it may have changed since). */
export function parseStoredDomain(input: string): string {
  return normalizeDomain(input);
}

function ownerLabel(slug: string, deleted: boolean): string {
  return `site "${slug}"${deleted ? ' (soft-deleted)' : ''}`;
}

/**
 * Locks the site's row, then the domain's: every domain change takes them in this order, so two
 * changes to one site's domains (two primaries at once, add racing remove) queue instead of
 * deadlocking or breaking the one-primary rule.
 */
async function lockDomain(tx: Tx, domain: string): Promise<{ row: SiteDomain; site: Site }> {
  const unlocked = await findDomain(tx, domain);
  if (!unlocked) throw new NotFoundError(`domain ${domain} is not attached to any site`, { domain });
  const site = await getSiteBySlug(tx, unlocked.siteSlug, { forUpdate: true });
  const row = await findDomain(tx, domain, { forUpdate: true });
  if (!row || row.siteId !== site.id) {
    throw new ConflictError(`domain ${domain} changed while this command ran; run it again`, { domain });
  }
  return { row, site };
}

/** The verified ancestor of `domain` that another site holds, if any: adding or verifying `domain` would take over its name space. */
export async function findTakeoverConflict(sql: Queryable, domain: string, siteId: number): Promise<{ domain: string; siteSlug: string } | null> {
  const ancestors = ancestorDomains(domain);
  if (ancestors.length === 0) return null;
  const [row] = await sql<{ domain: string; siteSlug: string }[]>`
    select d.domain, s.slug as "siteSlug" from public.site_domains d join public.sites s on s.id = d.site_id
    where d.domain = any(${ancestors}::text[]) and d.verification_state = 'verified' and d.site_id <> ${siteId}
    order by length(d.domain) desc limit 1`;
  return row ?? null;
}

export function takeoverMessage(domain: string, conflict: { domain: string; siteSlug: string }): string {
  return `${domain} is under ${conflict.domain}, which site "${conflict.siteSlug}" has verified: only that site may use names under it`;
}

export interface AddDomainInput {
  /** Slug of the site. */
  site: string;
  domain: string;
  primary?: boolean;
  /** When the domain is already this site's and not verified: issue a fresh token instead of refusing. */
  renew?: boolean;
  /** The network's base domain, refused with everything under it; default INDIGO_BASE_DOMAIN, null for none. */
  baseDomain?: string | null;
  tokenTtlMs?: number;
}

export interface AddDomainResult {
  domain: SiteDomain;
  /** Exactly what the domain's owner must publish. */
  record: ChallengeRecord;
  created: boolean;
  renewed: boolean;
}

/**
 * Attaches `domain` to a site as `pending` with a fresh token, or with `renew` gives an
 * unverified domain of the same site a fresh token. Refuses (ConflictError, exit 4) a domain
 * attached to any other site, soft-deleted ones included, and a name under a domain another site
 * has verified.
 */
export async function addDomain(ctx: IndigoContext, input: AddDomainInput): Promise<AddDomainResult> {
  authorize(ctx.actor, 'domain.manage');
  const baseDomain = input.baseDomain === undefined ? baseDomainFromEnv() : (input.baseDomain ?? undefined);
  const domain = normalizeDomain(input.domain, { baseDomain });
  const ttlMs = checkMilliseconds(input.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS, 'the token lifetime', 60_000);
  const token = createVerificationToken();

  return ctx.sql.begin(async (tx) => {
    const site = await getSiteBySlug(tx, input.site, { forUpdate: true });
    if (site.deletedAt) {
      throw new ConflictError(`site "${site.slug}" is soft-deleted: restore it before adding domains`, { site: site.slug });
    }
    const existing = await findDomain(tx, domain, { forUpdate: true });
    if (existing) refuseExisting(existing, site, Boolean(input.renew));
    const takeover = await findTakeoverConflict(tx, domain, site.id);
    if (takeover) throw new ConflictError(takeoverMessage(domain, takeover), { domain, ancestor: takeover.domain, site: takeover.siteSlug });

    const expiresAt = sqlExpiry(tx, ttlMs);
    let created = false;
    let id: number;
    if (existing) {
      id = existing.id;
      await tx`
        update public.site_domains set token = ${token}, token_expires_at = ${expiresAt}, verification_state = 'pending',
          first_failed_at = null, last_error = null
        where id = ${existing.id}`;
    } else {
      // The unique index decides between two operators adding one domain at once: the second
      // waits for the first to commit and inserts nothing.
      const [inserted] = await tx<{ id: number }[]>`
        insert into public.site_domains (site_id, domain, token, token_expires_at)
        values (${site.id}, ${domain}, ${token}, ${expiresAt})
        on conflict (domain) do nothing returning id`;
      if (!inserted) {
        const owner = await findDomain(tx, domain);
        throw new ConflictError(`${domain} was just attached to site "${owner?.siteSlug ?? '?'}" by someone else`, { domain, site: owner?.siteSlug });
      }
      id = inserted.id;
      created = true;
    }
    if (input.primary) await makePrimary(tx, site.id, id);

    const row = (await findDomain(tx, domain))!;
    await recordAudit(tx, ctx.actor, {
      action: created ? 'domain.add' : 'domain.renew',
      site,
      details: { domain, primary: row.isPrimary, tokenExpiresAt: row.tokenExpiresAt, ...(existing ? { previousState: existing.verificationState } : {}) },
    });
    await notifySiteChanged(tx, site);
    return { domain: row, record: challengeRecord(domain, token), created, renewed: !created };
  });
}

function refuseExisting(existing: SiteDomain, site: Site, renew: boolean): void {
  const domain = existing.domain;
  if (existing.siteId !== site.id) {
    throw new ConflictError(`${domain} is already attached to ${ownerLabel(existing.siteSlug, existing.siteDeleted)}`, { domain, site: existing.siteSlug });
  }
  if (existing.verificationState === 'verified') {
    const why = renew ? ': there is nothing to renew' : '';
    throw new ConflictError(`${domain} is already attached to site "${site.slug}" and verified${why}`, { domain, site: site.slug, state: 'verified' });
  }
  if (!renew) {
    throw new ConflictError(
      `${domain} is already attached to site "${site.slug}" (${existing.verificationState}${existing.tokenExpired ? ', token expired' : ''}): use --renew for a fresh token`,
      { domain, site: site.slug, state: existing.verificationState },
    );
  }
}

function sqlExpiry(sql: Queryable, ttlMs: number) {
  return sql`now() + make_interval(secs => ${ttlMs / 1000})`;
}

/** Moves the site's primary flag to `domainId`; the caller holds the site's row lock. */
async function makePrimary(tx: Tx, siteId: number, domainId: number): Promise<string | null> {
  const [previous] = await tx<{ domain: string }[]>`
    update public.site_domains set is_primary = false where site_id = ${siteId} and is_primary and id <> ${domainId} returning domain`;
  await tx`update public.site_domains set is_primary = true where id = ${domainId}`;
  return previous?.domain ?? null;
}

export interface RemoveDomainInput {
  domain: string;
  /** When given, the domain must belong to this site: a guard against removing the wrong one. */
  site?: string;
}

/** Detaches a domain from its site; the site stops resolving on it at once (the resolver caches are told). */
export async function removeDomain(ctx: IndigoContext, input: RemoveDomainInput): Promise<{ domain: SiteDomain }> {
  authorize(ctx.actor, 'domain.manage');
  const domain = parseStoredDomain(input.domain);
  return ctx.sql.begin(async (tx) => {
    const { row, site } = await lockDomain(tx, domain);
    if (input.site !== undefined && input.site !== site.slug) {
      throw new ConflictError(`${domain} belongs to ${ownerLabel(site.slug, site.deletedAt !== null)}, not to site "${input.site}"`, { domain, site: site.slug });
    }
    await tx`delete from public.site_domains where id = ${row.id}`;
    await recordAudit(tx, ctx.actor, {
      action: 'domain.remove',
      site,
      details: { domain, state: row.verificationState, wasPrimary: row.isPrimary },
    });
    await notifySiteChanged(tx, site);
    return { domain: row };
  });
}

export interface ListDomainsOptions {
  /** Slug: that site's domains only. */
  site?: string;
  status?: DomainState;
}

export async function listDomains(ctx: { sql: Queryable; actor: Actor }, options: ListDomainsOptions = {}): Promise<SiteDomain[]> {
  authorize(ctx.actor, 'domain.manage');
  const { sql } = ctx;
  const site = options.site === undefined ? null : await getSiteBySlug(sql, options.site);
  return sql<SiteDomain[]>`
    select ${domainColumns(sql)} from public.site_domains d join public.sites s on s.id = d.site_id
    where ${site ? sql`d.site_id = ${site.id}` : sql`true`}
      and ${options.status ? sql`d.verification_state = ${options.status}` : sql`true`}
    order by s.slug, d.is_primary desc, d.domain`;
}

export interface SetPrimaryDomainResult {
  domain: SiteDomain;
  /** The site's primary domain before, if it had another one. */
  previous: string | null;
  changed: boolean;
}

/** Makes `domain` its site's primary domain (at most one per site). */
export async function setPrimaryDomain(ctx: IndigoContext, input: { domain: string }): Promise<SetPrimaryDomainResult> {
  authorize(ctx.actor, 'domain.manage');
  const domain = parseStoredDomain(input.domain);
  return ctx.sql.begin(async (tx) => {
    const { row, site } = await lockDomain(tx, domain);
    if (row.isPrimary) return { domain: row, previous: null, changed: false };
    const previous = await makePrimary(tx, site.id, row.id);
    await recordAudit(tx, ctx.actor, { action: 'domain.primary', site, details: { domain, previous } });
    await notifySiteChanged(tx, site);
    return { domain: (await findDomain(tx, domain))!, previous, changed: true };
  });
}

/** Why a token no longer counts, for messages. */
export function tokenExpiredMessage(domain: SiteDomain | { domain: string; siteSlug: string; tokenExpiresAt: Date | null }): string {
  const when = domain.tokenExpiresAt ? ` on ${domain.tokenExpiresAt.toISOString()}` : '';
  return `the verification token of ${domain.domain} expired${when}: get a fresh one with domain:add ${domain.domain} --site ${domain.siteSlug} --renew`;
}
