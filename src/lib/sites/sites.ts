import type { Queryable, Tx } from '../db/connect.js';
import { recordAudit } from '../audit.js';
import type { Actor, IndigoContext } from '../context.js';
import { authorize } from '../policy.js';
import { ConflictError, ValidationError } from '../errors.js';
import type { MigrationSet } from '../migrations/files.js';
import { applySiteMigrations, loadSiteMigrations } from '../migrations/site.js';
import { getSiteBySlug, memberRoleSummary, notifySiteChanged, siteColumns, type MemberRoleSummary } from './queries.js';
import { nameFromSlug, schemaNameForSlug, validateSlug } from './slug.js';
import type { Site, SiteStatus } from './types.js';
import { validateLabel } from '../labels.js';

export const MAX_SITE_NAME_LENGTH = 200;

export interface CreateSiteInput {
  slug: string;
  name?: string;
}

export interface CreateSiteResult {
  site: Site;
  migrationsApplied: string[];
}

export function validateSiteName(name: string): string {
  return validateLabel(name, 'the site name', MAX_SITE_NAME_LENGTH);
}

/**
 * Creates the site row, its schema and every site migration in one transaction: either the site
 * exists fully migrated or nothing of it exists, also when the process dies mid-way (PostgreSQL
 * rolls back the open transaction when the connection drops).
 */
export async function createSite(ctx: IndigoContext, input: CreateSiteInput): Promise<CreateSiteResult> {
  authorize(ctx.actor, 'site.create');
  const slug = validateSlug(input.slug);
  const name = validateSiteName(input.name ?? nameFromSlug(slug));
  const migrations = await loadSiteMigrations(ctx.siteMigrationsDir);
  return ctx.sql.begin((tx) => insertSite(tx, ctx, { slug, name, isNetworkAdmin: false }, migrations));
}

/** The part of createSite that runs inside a transaction; `init` uses it for the network admin site. */
export async function insertSite(
  tx: Tx,
  ctx: IndigoContext,
  input: { slug: string; name: string; isNetworkAdmin: boolean },
  migrations: MigrationSet,
): Promise<CreateSiteResult> {
  const { id, schemaName } = await reserveSite(tx, input);
  const applied = await applySiteMigrations(tx, schemaName, migrations, { history: [] });
  const site = { id, slug: input.slug };
  await recordAudit(tx, ctx.actor, { action: 'site.create', site, details: { name: input.name, schema: schemaName, migrations: applied.map((m) => m.name) } });
  await notifySiteChanged(tx, site);
  return { site: await getSiteBySlug(tx, input.slug), migrationsApplied: applied.map((m) => m.name) };
}

export interface ReserveSiteInput {
  slug: string;
  name: string;
  isNetworkAdmin: boolean;
  settings?: Record<string, unknown>;
}

/**
 * Inserts the site row and creates its empty schema inside the caller's transaction: what
 * site:create and site:clone share before they fill the schema in their own ways.
 */
export async function reserveSite(tx: Tx, input: ReserveSiteInput): Promise<{ id: number; schemaName: string }> {
  const schemaName = schemaNameForSlug(input.slug);
  // ON CONFLICT waits for a concurrent creator of the same slug to finish, then does nothing if
  // it committed: of N simultaneous creators exactly one inserts.
  const [inserted] = await tx<{ id: number }[]>`
    insert into public.sites (slug, name, schema_name, is_network_admin, settings)
    values (${input.slug}, ${input.name}, ${schemaName}, ${input.isNetworkAdmin}, ${tx.json((input.settings ?? {}) as never)})
    on conflict do nothing
    returning id`;
  if (!inserted) throw new ConflictError(`site "${input.slug}" already exists`, { slug: input.slug });
  try {
    await tx`create schema ${tx(schemaName)}`;
  } catch (error) {
    if ((error as { code?: string }).code === '42P06') {
      throw new ConflictError(`schema ${schemaName} already exists but belongs to no site; inspect and drop it before creating "${input.slug}"`, { schema: schemaName });
    }
    throw error;
  }
  return { id: inserted.id, schemaName };
}

export type SiteListStatus = SiteStatus | 'deleted' | 'all';

export interface SiteListItem extends Site {
  domainCount: number;
  memberCount: number;
  primaryDomain: string | null;
}

/** Without a status: every site that is not soft-deleted. */
export async function listSites(ctx: { sql: Queryable; actor: Actor }, options: { status?: SiteListStatus } = {}): Promise<SiteListItem[]> {
  authorize(ctx.actor, 'site.list');
  const { sql } = ctx;
  const status = options.status;
  const filter =
    status === 'all' ? sql`true`
    : status === 'deleted' ? sql`s.deleted_at is not null`
    : status ? sql`s.deleted_at is null and s.status = ${status}`
    : sql`s.deleted_at is null`;
  return sql<SiteListItem[]>`
    select ${siteColumns(sql)},
      (select count(*) from public.site_domains d where d.site_id = s.id)::int as "domainCount",
      (select count(*) from public.site_members m where m.site_id = s.id)::int as "memberCount",
      (select d.domain from public.site_domains d where d.site_id = s.id and d.is_primary) as "primaryDomain"
    from public.sites s where ${filter} order by s.slug`;
}

export interface SiteDomainSummary {
  domain: string;
  isPrimary: boolean;
  verificationState: 'pending' | 'verified' | 'failed';
  verifiedAt: Date | null;
}

export interface SiteDetail extends Site {
  domains: SiteDomainSummary[];
  members: MemberRoleSummary;
}

export async function showSite(ctx: { sql: Queryable; actor: Actor }, slug: string): Promise<SiteDetail> {
  authorize(ctx.actor, 'site.show');
  const { sql } = ctx;
  const site = await getSiteBySlug(sql, slug);
  const [domains, members] = await Promise.all([
    sql<SiteDomainSummary[]>`
      select domain, is_primary as "isPrimary", verification_state as "verificationState", verified_at as "verifiedAt"
      from public.site_domains where site_id = ${site.id} order by is_primary desc, domain`,
    memberRoleSummary(sql, site.id),
  ]);
  return { ...site, domains: [...domains], members };
}

export interface UpdateSiteInput {
  slug: string;
  name?: string;
  /** Merged into the site's settings; a `null` value removes the key. */
  settings?: Record<string, unknown>;
}

const SETTING_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

/** `key=value` → [key, value]; the value is JSON when it parses as JSON, else the plain string. */
export function parseSettingAssignment(assignment: string): [string, unknown] {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ValidationError(`invalid setting ${JSON.stringify(assignment)}: expected key=value`);
  const key = assignment.slice(0, eq);
  if (!SETTING_KEY.test(key)) throw new ValidationError(`invalid setting key ${JSON.stringify(key)}: letters, digits, _ . - and starting with a letter`);
  const raw = assignment.slice(eq + 1);
  try {
    return [key, JSON.parse(raw)];
  } catch {
    return [key, raw];
  }
}

export async function updateSite(ctx: IndigoContext, input: UpdateSiteInput): Promise<{ site: Site; changed: string[] }> {
  authorize(ctx.actor, 'site.update');
  const name = input.name === undefined ? undefined : validateSiteName(input.name);
  for (const key of Object.keys(input.settings ?? {})) {
    if (!SETTING_KEY.test(key)) throw new ValidationError(`invalid setting key ${JSON.stringify(key)}`);
  }
  if (name === undefined && !input.settings) throw new ValidationError('nothing to update: give --name or --setting');
  return ctx.sql.begin(async (tx) => {
    const site = await getSiteBySlug(tx, input.slug, { forUpdate: true });
    const settings: Record<string, unknown> = { ...site.settings };
    const changed: string[] = [];
    for (const [key, value] of Object.entries(input.settings ?? {})) {
      if (value === null) {
        if (key in settings) { delete settings[key]; changed.push(`settings.${key}`); }
      } else if (JSON.stringify(settings[key]) !== JSON.stringify(value)) {
        settings[key] = value;
        changed.push(`settings.${key}`);
      }
    }
    if (name !== undefined && name !== site.name) changed.push('name');
    if (changed.length === 0) return { site, changed };
    await tx`
      update public.sites set name = ${name ?? site.name}, settings = ${tx.json(settings as never)}, updated_at = now()
      where id = ${site.id}`;
    await recordAudit(tx, ctx.actor, { action: 'site.update', site, details: { changed, name: name ?? site.name, settings: input.settings ?? {} } });
    await notifySiteChanged(tx, site);
    return { site: await getSiteBySlug(tx, input.slug), changed };
  });
}
