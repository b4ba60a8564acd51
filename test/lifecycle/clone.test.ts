import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloneSite,
  ConflictError,
  createSite,
  NotFoundError,
  softDeleteSite,
  restoreSite,
  ValidationError,
  type CloneProgressEvent,
  type IndigoContext,
} from '../../src/index.js';
import { catalogSnapshot } from '../support/catalog.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { addDomain, addMember, schemaExists, seedContent, siteId } from './fixtures.js';

let network: TestNetwork;
let ctx: IndigoContext;

const POSTS = 10_000;
const CATEGORIES = 200;

beforeAll(async () => {
  network = await createTestNetwork();
  ctx = network.ctx;
  const { site } = await createSite(ctx, { slug: 'acme' });
  await seedContent(network.sql, 'site_acme', { posts: POSTS, categories: CATEGORIES, revisions: 2, media: 50 });
  await network.sql`update sites set settings = '{"theme":"dark"}' where slug = 'acme'`;
  await addDomain(network.sql, site.id, 'acme.example.com', 'verified');
  await addMember(network.sql, site.id, 'owner@example.com', 'owner');
  await addMember(network.sql, site.id, 'editor@example.com', 'editor');
});
afterAll(async () => {
  await network?.drop();
});

/**
 * A schema's structure as the server describes it with that schema alone on the search_path,
 * so that two schemas with the same objects describe the same way; index definitions (which
 * always name their table's schema) have it removed.
 */
async function describeSchema(schema: string): Promise<unknown> {
  return network.sql.begin(async (tx) => {
    await tx`select set_config('search_path', ${schema}, true)`;
    const ns = tx`(select oid from pg_namespace where nspname = ${schema})`;
    const [tables, columns, constraints, indexes, enums, sequences] = await Promise.all([
      tx`select relname, relpersistence, obj_description(oid, 'pg_class') as comment from pg_class where relnamespace = ${ns} and relkind = 'r' order by 1`,
      tx`select c.relname, a.attname, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull, a.attidentity, a.attgenerated,
            pg_get_expr(d.adbin, d.adrelid) as default, col_description(c.oid, a.attnum) as comment
          from pg_class c join pg_attribute a on a.attrelid = c.oid left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
          where c.relnamespace = ${ns} and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped order by 1, a.attnum`,
      tx`select t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid) as definition, c.convalidated
          from pg_constraint c join pg_class t on t.oid = c.conrelid where t.relnamespace = ${ns} order by 1, 2`,
      tx`select i.relname, replace(pg_get_indexdef(i.oid), ${schema + '.'}, '') as definition
          from pg_class i where i.relnamespace = ${ns} and i.relkind = 'i' order by 1`,
      tx`select t.typname, array_agg(e.enumlabel order by e.enumsortorder) as labels
          from pg_type t join pg_enum e on e.enumtypid = t.oid where t.typnamespace = ${ns} group by 1 order by 1`,
      tx`select c.relname, format_type(s.seqtypid, null) as type, s.seqstart::text, s.seqincrement::text, s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle,
            (select t.relname || '.' || a.attname || ':' || d.deptype::text from pg_depend d join pg_class t on t.oid = d.refobjid
               join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
             where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')) as owner
          from pg_class c join pg_sequence s on s.seqrelid = c.oid where c.relnamespace = ${ns} order by 1`,
    ]);
    return { tables, columns, constraints, indexes, enums, sequences };
  });
}

/** Every dependency of an object in `schema` on an object of `other`, as pg_depend records it. */
async function referencesBetween(schema: string, other: string): Promise<string[]> {
  const rows = await network.sql<{ ref: string }[]>`
    with placed as (
      select d.*, coalesce(
          (select relnamespace from pg_class where oid = coalesce(
            case d.classid when 'pg_class'::regclass then d.objid
              when 'pg_attrdef'::regclass then (select adrelid from pg_attrdef where oid = d.objid)
              when 'pg_constraint'::regclass then (select nullif(conrelid, 0) from pg_constraint where oid = d.objid)
              when 'pg_rewrite'::regclass then (select ev_class from pg_rewrite where oid = d.objid) end, 0)),
          (select typnamespace from pg_type where oid = d.objid and d.classid = 'pg_type'::regclass)) as dep_ns,
        coalesce(
          (select relnamespace from pg_class where oid = d.refobjid and d.refclassid = 'pg_class'::regclass),
          (select typnamespace from pg_type where oid = d.refobjid and d.refclassid = 'pg_type'::regclass),
          (select connamespace from pg_constraint where oid = d.refobjid and d.refclassid = 'pg_constraint'::regclass),
          case when d.refclassid = 'pg_namespace'::regclass then d.refobjid end) as ref_ns
      from pg_depend d)
    select pg_describe_object(classid, objid, objsubid) || ' -> ' || pg_describe_object(refclassid, refobjid, refobjsubid) as ref
    from placed
    where dep_ns = (select oid from pg_namespace where nspname = ${schema}) and ref_ns = (select oid from pg_namespace where nspname = ${other})`;
  return rows.map((row) => row.ref);
}

async function tableDigest(schema: string, table: string, orderBy: string): Promise<{ rows: number; digest: string }> {
  const [row] = await network.sql.unsafe(`select count(*)::int as rows, coalesce(md5(string_agg(t::text, '|' order by ${orderBy})), '') as digest from "${schema}"."${table}" t`);
  return row as unknown as { rows: number; digest: string };
}

const CMS_TABLES: [string, string][] = [
  ['cms_media', 'id'], ['cms_categories', 'id'], ['cms_posts', 'id'], ['cms_post_categories', 'post_id, category_id'],
  ['cms_revisions', 'id'], ['cms_pages', 'id'], ['cms_menus', 'id'], ['cms_settings', 'key'], ['indigo_migrations', 'name'],
];

describe('site:clone', () => {
  it('copies 10,000 posts with categories, revisions and media into a clone that refers to nothing of the source', async () => {
    const events: CloneProgressEvent[] = [];
    const result = await cloneSite(ctx, { source: 'acme', target: 'acme-copy', onProgress: (event) => events.push(event) });

    expect(result.site).toMatchObject({ slug: 'acme-copy', name: 'Acme Copy', schemaName: 'site_acme_copy', status: 'active', deletedAt: null, isNetworkAdmin: false, settings: { theme: 'dark' } });
    expect(result.source).toMatchObject({ slug: 'acme', schemaName: 'site_acme' });
    expect(result.migrations).toEqual(['0000_cms']);
    expect(result.tables.find((t) => t.table === 'cms_posts')).toEqual({ table: 'cms_posts', rows: POSTS });
    expect(result).toMatchObject({ schemaOnly: false, enums: 1, foreignKeys: 7, members: 0 });

    expect(await describeSchema('site_acme_copy')).toEqual(await describeSchema('site_acme'));
    for (const [table, orderBy] of CMS_TABLES) {
      expect(await tableDigest('site_acme_copy', table, orderBy), table).toEqual(await tableDigest('site_acme', table, orderBy));
    }
    expect(await referencesBetween('site_acme_copy', 'site_acme')).toEqual([]);
    // The clone's catalog text never names the source schema either.
    const [{ mentions }] = await network.sql`
      select count(*)::int as mentions from (
        select pg_get_expr(d.adbin, d.adrelid) as text from pg_attrdef d join pg_class c on c.oid = d.adrelid where c.relnamespace = 'site_acme_copy'::regnamespace
        union all select pg_get_constraintdef(k.oid) from pg_constraint k where k.connamespace = 'site_acme_copy'::regnamespace
        union all select pg_get_indexdef(i.oid) from pg_class i where i.relnamespace = 'site_acme_copy'::regnamespace and i.relkind = 'i'
        union all select format_type(a.atttypid, a.atttypmod) from pg_attribute a join pg_class c on c.oid = a.attrelid where c.relnamespace = 'site_acme_copy'::regnamespace
      ) t where text like '%site_acme.%' or text like '%site_acme"%'`;
    expect(mentions).toBe(0);

    // Sequences stand where the source's stand.
    const sequences = await network.sql`select schemaname, sequencename, last_value::text from pg_sequences where schemaname in ('site_acme', 'site_acme_copy') order by sequencename, schemaname`;
    for (let i = 0; i < sequences.length; i += 2) expect(sequences[i + 1]!.last_value).toEqual(sequences[i]!.last_value);

    // Domains are not copied; members only on request.
    const cloneId = result.site.id;
    expect(await network.sql`select 1 from site_domains where site_id = ${cloneId}`).toHaveLength(0);
    expect(await network.sql`select 1 from site_members where site_id = ${cloneId}`).toHaveLength(0);

    const [audit] = await network.sql`select actor, action, site_id::int as site_id, details from audit_log where site_slug = 'acme-copy'`;
    expect(audit).toMatchObject({ actor: 'test-operator', action: 'site.clone', site_id: cloneId, details: { source: 'acme', schemaOnly: false, rows: result.rows } });

    expect(events[0]).toMatchObject({ type: 'plan', copying: expect.arrayContaining(['cms_posts', 'indigo_migrations']) });
    expect(events.filter((e) => e.type === 'table-done').map((e) => (e as { table: string }).table)).toEqual(CMS_TABLES.map(([t]) => t).sort());
    expect(events.filter((e) => e.type === 'phase-done').map((e) => (e as { phase: string }).phase)).toEqual(['structure', 'rows', 'indexes', 'foreign-keys', 'sequences', 'verify']);
  });

  it('lets the clone take new rows that never collide with the copied ones, and keeps working without the source', async () => {
    const inserted = await network.sql.unsafe(`
      insert into site_acme_copy.cms_categories (slug, name) values ('new-cat', 'New') returning id;
      insert into site_acme_copy.cms_posts (slug, title, status) values ('new-post', 'New', 'published') returning id, status::text;
    `);
    const [category] = inserted[0] as unknown as { id: string }[];
    const [post] = inserted[1] as unknown as { id: string; status: string }[];
    expect(Number(category!.id)).toBe(CATEGORIES + 1);
    expect(Number(post!.id)).toBe(POSTS + 1);
    expect(post!.status).toBe('published');
    await network.sql.unsafe(`
      insert into site_acme_copy.cms_post_categories (post_id, category_id) values (${post!.id}, ${category!.id});
      insert into site_acme_copy.cms_revisions (post_id, title, body) values (${post!.id}, 'r', 'b');`);
    // Foreign keys point inside the clone: a post of the clone cannot reference a source category id beyond the clone's.
    await expect(network.sql.unsafe(`insert into site_acme_copy.cms_post_categories (post_id, category_id) values (${post!.id}, 99999)`)).rejects.toThrow(/violates foreign key constraint/);
    // Deleting a post of the clone cascades inside the clone only.
    await network.sql.unsafe('delete from site_acme_copy.cms_posts where id = 1');
    expect((await network.sql`select count(*)::int as n from site_acme.cms_revisions where post_id = 1`)[0]!.n).toBe(2);
    // With the source schema out of the way the clone does not notice.
    const source = await describeSchema('site_acme');
    await network.sql.unsafe('alter schema site_acme rename to site_acme_away');
    expect((await network.sql`select count(*)::int as n from site_acme_copy.cms_posts`)[0]!.n).toBe(POSTS);
    await network.sql.unsafe(`insert into site_acme_copy.cms_posts (slug, title) values ('after-rename', 'x')`);
    await network.sql.unsafe('alter schema site_acme_away rename to site_acme');
    expect(await describeSchema('site_acme')).toEqual(source);
  });

  it('--schema-only copies structure and migration history, not rows; its sequences start afresh', async () => {
    const result = await cloneSite(ctx, { source: 'acme', target: 'blank', schemaOnly: true });
    expect(result).toMatchObject({ schemaOnly: true, migrations: ['0000_cms'] });
    expect(result.rows).toBe(1);
    expect(await describeSchema('site_blank')).toEqual(await describeSchema('site_acme'));
    expect((await network.sql`select count(*)::int as n from site_blank.cms_posts`)[0]!.n).toBe(0);
    expect(await tableDigest('site_blank', 'indigo_migrations', 'name')).toEqual(await tableDigest('site_acme', 'indigo_migrations', 'name'));
    const [post] = await network.sql`insert into site_blank.cms_posts (slug, title) values ('first', 'First') returning id::int as id`;
    expect(post!.id).toBe(1);
    expect(await referencesBetween('site_blank', 'site_acme')).toEqual([]);
  });

  it('--with-members gives the clone the same members and roles', async () => {
    const result = await cloneSite(ctx, { source: 'acme', target: 'team-copy', name: 'Team Copy', schemaOnly: true, withMembers: true });
    expect(result.members).toBe(2);
    expect(result.site.name).toBe('Team Copy');
    const members = await network.sql`
      select u.email, m.role from site_members m join users u on u.id = m.user_id where m.site_id = ${result.site.id} order by u.email`;
    expect(members).toEqual([{ email: 'editor@example.com', role: 'editor' }, { email: 'owner@example.com', role: 'owner' }]);
  });

  it('copies what hand-written migrations add: serial and standalone sequences, checks, generated and collated columns, partial and expression indexes, comments, unlogged tables, foreign keys to public', async () => {
    const { site } = await createSite(ctx, { slug: 'rich' });
    await network.sql.unsafe(`
      set search_path = site_rich;
      create type priority as enum ('low', 'high');
      create sequence ticket_numbers as integer start with 100 increment by 5;
      select setval('ticket_numbers', 230, false);
      create sequence invoice_numbers;
      select setval('invoice_numbers', 500, false);
      create table tickets (
        id serial primary key,
        number integer not null default nextval('ticket_numbers'),
        title text collate "C" not null check (length(title) > 0),
        priorities priority[] not null default '{low}',
        level priority default 'high'::priority,
        owner_id bigint references public.users (id),
        title_length int generated always as (length(title)) stored,
        created_at timestamptz default now(),
        constraint tickets_number_positive check (number > 0) not valid
      );
      comment on table tickets is 'Support tickets';
      comment on column tickets.title is 'What it''s about';
      create index tickets_open_idx on tickets (created_at) where level = 'high';
      create unique index tickets_lower_title_key on tickets (lower(title));
      create unlogged table scratch (k text primary key, v jsonb);
      insert into tickets (title, priorities) select 'ticket ' || i, '{high,low}' from generate_series(1, 25) i;
      insert into scratch values ('a', '{}');
      reset search_path;
    `);
    await addMember(network.sql, site.id, 'rich@example.com', 'owner');
    await network.sql.unsafe(`update site_rich.tickets set owner_id = (select id from users where email = 'rich@example.com')`);

    const result = await cloneSite(ctx, { source: 'rich', target: 'rich-copy' });
    expect(await describeSchema('site_rich_copy')).toEqual(await describeSchema('site_rich'));
    for (const [table, orderBy] of [['tickets', 'id'], ['scratch', 'k']] as const) {
      expect(await tableDigest('site_rich_copy', table, orderBy)).toEqual(await tableDigest('site_rich', table, orderBy));
    }
    expect(await referencesBetween('site_rich_copy', 'site_rich')).toEqual([]);
    expect(result.tables.find((t) => t.table === 'tickets')).toEqual({ table: 'tickets', rows: 25 });
    // Sequences continue where the source's stand: 25 tickets took 230, 235, … 350.
    const [next] = await network.sql.unsafe(`
      insert into site_rich_copy.tickets (title) values ('new') returning id, number, title_length`);
    expect(next).toMatchObject({ id: 26, number: 355, title_length: 3 });
    // A sequence set with is_called = false hands out exactly that value next, in both.
    expect(await network.sql`select nextval('site_rich_copy.invoice_numbers')::int as n`).toEqual([{ n: 500 }]);
    // The foreign key to the shared users table still points at public.users.
    await expect(network.sql.unsafe(`update site_rich_copy.tickets set owner_id = -1 where id = 1`)).rejects.toThrow(/tickets_owner_id_fkey/);
  });

  it('refuses a source schema with objects it cannot copy, listing them and creating nothing', async () => {
    await createSite(ctx, { slug: 'odd' });
    await network.sql.unsafe(`
      create view site_odd.published_posts as select * from site_odd.cms_posts where status = 'published';
      create function site_odd.post_count() returns bigint language sql as 'select count(*) from site_odd.cms_posts';
      create function site_odd.touch() returns trigger language plpgsql as 'begin new.updated_at = now(); return new; end';
      create trigger cms_posts_touch before update on site_odd.cms_posts for each row execute function site_odd.touch()`);
    const before = await catalogSnapshot(network.sql);
    const error = await cloneSite(ctx, { source: 'odd', target: 'odd-copy' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toMatch(/site_odd also has: .*function site_odd\.post_count\(\).*trigger cms_posts_touch on site_odd\.cms_posts.*view site_odd\.published_posts.*nothing was created/);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });

  it.each([
    ['a missing source', { source: 'nope', target: 'nope-copy' }, NotFoundError, /site "nope" does not exist/],
    ['an existing target', { source: 'acme', target: 'blank' }, ConflictError, /site "blank" already exists/],
    ['an invalid target slug', { source: 'acme', target: 'Bad_Slug' }, ValidationError, /invalid slug "Bad_Slug": the slug must be lowercase/],
    ['a reserved target slug', { source: 'acme', target: 'admin' }, ValidationError, /"admin" is reserved/],
    ['the same site as source and target', { source: 'acme', target: 'acme' }, ValidationError, /source and target are the same site/],
    ['an empty name', { source: 'acme', target: 'unnamed', name: ' ' }, ValidationError, /site name is empty/],
  ])('refuses %s and changes nothing', async (_what, input, errorClass, message) => {
    const before = await catalogSnapshot(network.sql);
    const error = await cloneSite(ctx, input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect((error as Error).message).toMatch(message);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });

  it('refuses a soft-deleted source (exit 4) and an orphan schema in the way, changing nothing', async () => {
    await softDeleteSite(ctx, { slug: 'odd' });
    let before = await catalogSnapshot(network.sql);
    await expect(cloneSite(ctx, { source: 'odd', target: 'odd-copy' })).rejects.toThrow(/site "odd" is deleted and cannot be cloned; restore it first/);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
    await restoreSite(ctx, { slug: 'odd' });

    await network.sql.unsafe('create schema site_squatter');
    before = await catalogSnapshot(network.sql);
    await expect(cloneSite(ctx, { source: 'acme', target: 'squatter', schemaOnly: true })).rejects.toThrow(/schema site_squatter already exists but belongs to no site/);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
    await network.sql.unsafe('drop schema site_squatter');
  });

  it('clones the clone: the chain never points back', async () => {
    await cloneSite(ctx, { source: 'rich-copy', target: 'rich-copy-2' });
    expect(await describeSchema('site_rich_copy_2')).toEqual(await describeSchema('site_rich'));
    expect(await referencesBetween('site_rich_copy_2', 'site_rich_copy')).toEqual([]);
    expect(await schemaExists(network.sql, 'site_rich_copy_2')).toBe(true);
    expect(await siteId(network.sql, 'rich-copy-2')).toBeGreaterThan(0);
  });
});
