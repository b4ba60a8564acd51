import type postgres from 'postgres';

export interface MarkerSite {
  siteId: number;
  schemaName: string;
  marker: string;
}

/**
 * Creates `count` site schemas `site_t1 … site_tN`, each with a one-row `marker` table naming
 * its site, plus `public.marker` holding 'public'. An unscoped query that ran with a leaked
 * search_path would read a site's marker instead of 'public', so leaks show in both directions.
 */
export async function createMarkerSites(sql: postgres.Sql, count: number): Promise<MarkerSite[]> {
  const sites = Array.from({ length: count }, (_, i) => ({ siteId: i + 1, schemaName: `site_t${i + 1}`, marker: `t${i + 1}` }));
  await sql.begin(async (tx) => {
    await tx`create table if not exists public.marker (site text not null)`;
    await tx`insert into public.marker (site) values ('public')`;
    for (const site of sites) {
      await tx`create schema ${tx(site.schemaName)}`;
      await tx`create table ${tx(site.schemaName)}.marker (site text not null)`;
      await tx`insert into ${tx(site.schemaName)}.marker (site) values (${site.marker})`;
    }
  });
  return sites;
}

/** `show search_path` on `count` distinct pooled connections at once (reserved, so they differ). */
export async function searchPathsOfPool(sql: postgres.Sql, count: number): Promise<Array<{ pid: number; searchPath: string }>> {
  const reserved = await Promise.all(Array.from({ length: count }, () => sql.reserve()));
  try {
    return await Promise.all(
      reserved.map(async (conn) => {
        const [row] = await conn`select pg_backend_pid() as pid, current_setting('search_path') as search_path`;
        return { pid: row!.pid as number, searchPath: row!.search_path as string };
      }),
    );
  } finally {
    for (const conn of reserved) conn.release();
  }
}
