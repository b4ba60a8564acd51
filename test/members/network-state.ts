import type postgres from 'postgres';

/**
 * Everything a refused call must leave untouched: the network rows (with the columns that change)
 * and the site schemas. Compared before and after with toEqual.
 */
export async function networkState(sql: postgres.Sql) {
  const rows = async (query: Promise<postgres.RowList<postgres.Row[]>>) => (await query).map((row) => ({ ...row }));
  return {
    sites: await rows(sql`select id, slug, name, status, status_reason, deleted_at, settings, updated_at from public.sites order by id`),
    users: await rows(sql`select id, email, name, network_role, updated_at from public.users order by id`),
    members: await rows(sql`select site_id, user_id, role from public.site_members order by site_id, user_id`),
    domains: await rows(sql`select id, site_id, domain, is_primary, verification_state, token from public.site_domains order by id`),
    audit: (await sql`select count(*)::int as n from public.audit_log`)[0]!.n as number,
    schemas: (await sql`select nspname from pg_namespace where nspname like 'site\\_%' order by 1`).map((row) => row.nspname as string),
  };
}
