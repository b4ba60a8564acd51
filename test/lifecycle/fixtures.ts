import type postgres from 'postgres';
import { LOCK_CLASS_SITE } from '../../src/lib/db/locks.js';

type Sql = postgres.Sql;

export interface ContentSize {
  posts: number;
  categories?: number;
  /** Revisions per post. */
  revisions?: number;
  media?: number;
}

/**
 * Fills a site schema with related CMS content: media, a category tree, posts (some with
 * featured media, every status), post↔category links, revisions and pages. Runs as one batch;
 * the schema name is a test constant.
 */
export async function seedContent(sql: Sql, schema: string, size: ContentSize): Promise<void> {
  const categories = size.categories ?? 20;
  const media = size.media ?? 10;
  const revisions = size.revisions ?? 1;
  await sql.unsafe(`
    insert into "${schema}".cms_media (path, mime_type, size_bytes) select 'media/' || i || '.jpg', 'image/jpeg', i * 1000 from generate_series(1, ${media}) i;
    insert into "${schema}".cms_categories (slug, name) select 'cat-' || i, 'Category ' || i from generate_series(1, ${categories}) i;
    update "${schema}".cms_categories set parent_id = 1 where id > 1 and id % 5 = 0;
    insert into "${schema}".cms_posts (slug, title, body, status, featured_media_id, published_at)
      select 'post-' || i, 'Post ' || i, repeat('lorem ipsum ', 20),
        (array['draft', 'scheduled', 'published', 'trashed'])[1 + i % 4]::"${schema}".cms_content_status,
        case when i % 3 = 0 then 1 + i % ${media} end, now() - i * interval '1 minute'
      from generate_series(1, ${size.posts}) i;
    insert into "${schema}".cms_post_categories (post_id, category_id) select p.id, 1 + p.id % ${categories} from "${schema}".cms_posts p;
    insert into "${schema}".cms_revisions (post_id, title, body) select p.id, p.title, p.body from "${schema}".cms_posts p, generate_series(1, ${revisions});
    insert into "${schema}".cms_pages (slug, title, status) values ('about', 'About', 'published'), ('contact', 'Contact', 'draft');
    insert into "${schema}".cms_pages (slug, title, parent_id) select 'team', 'Team', id from "${schema}".cms_pages where slug = 'about';
    insert into "${schema}".cms_settings (key, value) values ('theme', '"dark"');
    insert into "${schema}".cms_menus (location, name, items) values ('main', 'Main', '[{"label":"Home"}]');
  `);
}

export async function addDomain(sql: Sql, siteId: number, domain: string, state: 'pending' | 'verified' | 'failed' = 'pending'): Promise<void> {
  await sql`insert into public.site_domains (site_id, domain, token, verification_state) values (${siteId}, ${domain}, ${'token-' + domain}, ${state})`;
}

export async function addMember(sql: Sql, siteId: number, email: string, role: 'owner' | 'admin' | 'editor' | 'viewer'): Promise<number> {
  const [user] = await sql<{ id: number }[]>`
    insert into public.users (email) values (${email})
    on conflict (lower(email)) do update set email = excluded.email
    returning id::int as id`;
  await sql`insert into public.site_members (site_id, user_id, role) values (${siteId}, ${user!.id}, ${role})`;
  return user!.id;
}

export async function siteId(sql: Sql, slug: string): Promise<number> {
  const [row] = await sql<{ id: number }[]>`select id::int as id from public.sites where slug = ${slug}`;
  if (!row) throw new Error(`test fixture: no site ${slug}`);
  return row.id;
}

export async function schemaExists(sql: Sql, schema: string): Promise<boolean> {
  return (await sql`select 1 from pg_namespace where nspname = ${schema}`).length > 0;
}

/** Polls until `condition` holds: for states another session reaches (a lock wait), never a fixed delay. */
export async function waitUntil(what: string, condition: () => Promise<boolean>, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Some session is waiting for the per-site lifecycle lock of `id`. */
export async function waitForSiteLockWaiter(sql: Sql, id: number): Promise<void> {
  await waitUntil(`a session waits for the lock of site ${id}`, async () => {
    const rows = await sql`
      select 1 from pg_locks
      where locktype = 'advisory' and not granted and classid = ${LOCK_CLASS_SITE}::oid and objid = ${id}::oid and objsubid = 2`;
    return rows.length > 0;
  });
}

/** Some session is waiting for a lock on `relation` (e.g. 'public.audit_log'). */
export async function waitForRelationLockWaiter(sql: Sql, relation: string): Promise<void> {
  await waitUntil(`a session waits for a lock on ${relation}`, async () => {
    const rows = await sql`select 1 from pg_locks where locktype = 'relation' and not granted and relation = to_regclass(${relation})`;
    return rows.length > 0;
  });
}
