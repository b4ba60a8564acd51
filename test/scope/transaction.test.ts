import { drizzle } from 'drizzle-orm/postgres-js';
import { pgTable, text } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/lib/errors.js';
import { applySiteSearchPath, getScope, withScope, withSiteTransaction } from '../../src/lib/scope/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createMarkerSites, searchPathsOfPool } from './support/sites.js';

const marker = pgTable('marker', { site: text('site').notNull() });

let db: TestDatabase;
/** One connection, so every test below also checks what the next borrower of it would see. */
let sql: postgres.Sql;
let defaultSearchPath: string;

const t1 = { siteId: 1, schemaName: 'site_t1' };
const t2 = { siteId: 2, schemaName: 'site_t2' };
const t3 = { siteId: 3, schemaName: 'site_t3' };

async function readMarker(tx: postgres.TransactionSql): Promise<string> {
  const [row] = await tx`select site from marker`;
  return row!.site as string;
}

async function poolSearchPath(): Promise<string> {
  const [row] = await searchPathsOfPool(sql, 1);
  return row!.searchPath;
}

beforeAll(async () => {
  db = await createTestDatabase('indigo_scope_tx');
  await createMarkerSites(db.sql, 3);
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
  defaultSearchPath = await poolSearchPath();
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await db?.drop();
});

describe('withSiteTransaction with postgres.js', () => {
  it('uses the current scope’s schema for the transaction only', async () => {
    const inside = await withScope(t1, () =>
      withSiteTransaction(sql, async (tx) => {
        const [row] = await tx`select current_setting('search_path') as path, current_schema() as schema`;
        return { marker: await readMarker(tx), path: row!.path, schema: row!.schema };
      }),
    );
    expect(inside).toEqual({ marker: 't1', path: '"site_t1", public', schema: 'site_t1' });
    expect(await poolSearchPath()).toBe(defaultSearchPath);
  });

  it('runs a plain transaction on the default search_path outside any scope', async () => {
    expect(getScope()).toBeNull();
    await expect(withSiteTransaction(sql, (tx) => readMarker(tx))).resolves.toBe('public');
  });

  it('prefers an explicit schemaName to the scope', async () => {
    const seen = await withScope(t1, () => withSiteTransaction(sql, (tx) => readMarker(tx), { schemaName: t2.schemaName }));
    expect(seen).toBe('t2');
  });

  it('applies the search_path before a first query that is returned without await', async () => {
    const rows = await withScope(t2, () => withSiteTransaction(sql, (tx) => tx`select site from marker`));
    expect(rows.map((r) => r.site)).toEqual(['t2']);
    const pair = await withScope(t1, () =>
      withSiteTransaction(sql, (tx) => [tx`select site from marker`, tx`select current_schema() as s`] as const),
    );
    expect(pair[0][0]!.site).toBe('t1');
    expect(pair[1][0]!.s).toBe('site_t1');
  });

  it('refuses a schema name that is not a site schema before opening a transaction', async () => {
    let ran = false;
    for (const schemaName of ['public', 'site_t1, public', 'site_T1', 'pg_catalog']) {
      expect(() =>
        withSiteTransaction(
          sql,
          async () => {
            ran = true;
          },
          { schemaName },
        ),
      ).toThrow(ValidationError);
    }
    expect(ran).toBe(false);
  });

  it('rolls back and drops the search_path when fn throws', async () => {
    await expect(
      withScope(t1, () =>
        withSiteTransaction(sql, async (tx) => {
          await tx`insert into marker (site) values ('rolled back')`;
          throw new Error('boom');
        }),
      ),
    ).rejects.toThrow('boom');
    expect(await poolSearchPath()).toBe(defaultSearchPath);
    const [row] = await sql`select count(*)::int as n from site_t1.marker`;
    expect(row!.n).toBe(1);
  });

  it('drops the search_path after a statement timeout', async () => {
    const error = await withScope(t1, () =>
      withSiteTransaction(sql, async (tx) => {
        await tx`select set_config('statement_timeout', '20ms', true)`;
        await tx`select pg_sleep(1)`;
      }),
    ).catch((e: unknown) => e);
    expect((error as postgres.PostgresError).code).toBe('57014');
    expect(await poolSearchPath()).toBe(defaultSearchPath);
  });

  it('restores the site’s search_path when a savepoint that switched it rolls back', async () => {
    const seen = await withScope(t1, () =>
      withSiteTransaction(sql, async (tx) => {
        const before = await readMarker(tx);
        let insideSavepoint = '';
        await tx
          .savepoint(async (sp) => {
            await applySiteSearchPath(sp, 'site_t2');
            insideSavepoint = await readMarker(sp);
            throw new Error('undo');
          })
          .catch(() => {});
        return { before, insideSavepoint, after: await readMarker(tx) };
      }),
    );
    expect(seen).toEqual({ before: 't1', insideSavepoint: 't2', after: 't1' });
    expect(await poolSearchPath()).toBe(defaultSearchPath);
  });

  it('fails the transaction with the first failed statement even if fn caught it or never awaited it', async () => {
    const caught = await withScope(t1, () =>
      withSiteTransaction(sql, async (tx) => {
        await tx`insert into marker (site) values ('caught')`;
        await tx`select no_such_column from marker`.catch(() => {});
        return 'returned normally';
      }),
    ).catch((e: unknown) => e);
    expect((caught as postgres.PostgresError).code).toBe('42703');

    const unawaited = await withScope(t1, () =>
      withSiteTransaction(sql, async (tx) => {
        tx`insert into marker (site) values ('unawaited')`.execute();
        tx`select 1/0`.execute();
        return 'returned before the failure';
      }),
    ).catch((e: unknown) => e);
    expect((unawaited as postgres.PostgresError).code).toBe('22012');

    const [row] = await sql`select count(*)::int as n from site_t1.marker`;
    expect(row!.n).toBe(1);
    expect(await poolSearchPath()).toBe(defaultSearchPath);
  });

  it('keeps released savepoints, rolls back failed ones, and offers no release()', async () => {
    const seen = await withScope(t3, () =>
      withSiteTransaction(sql, async (tx) => {
        expect((tx as unknown as { release?: unknown }).release).toBeUndefined();
        await tx.savepoint('kept', (sp) => sp`insert into marker (site) values ('kept')`);
        const failed = await tx
          .savepoint(async (sp) => {
            await sp`insert into marker (site) values ('undone')`;
            await sp`select 1/0`.catch(() => {});
            return 'not reached';
          })
          .catch((e: postgres.PostgresError) => e.code);
        const lateFailure = await tx
          .savepoint(async (sp) => {
            sp`insert into marker (site) values ('undone too')`.execute();
            sp`select 1/0`.execute();
          })
          .catch((e: postgres.PostgresError) => e.code);
        const rows = await tx`select site from marker order by site`;
        throw Object.assign(new Error('roll back the test data'), { failed, lateFailure, rows: rows.map((r) => r.site) });
      }),
    ).catch((e: { failed?: string; rows?: string[] }) => e);
    expect(seen).toMatchObject({ failed: '22012', lateFailure: '22012', rows: ['kept', 't3'] });
  });

  it('reports a connection killed mid-transaction without crashing the process or committing', async () => {
    // A pool of its own: postgres.js 3.4.10 cannot always reuse a slot whose session was killed
    // (porsager/postgres#1154, #1208), and the other tests must not depend on that.
    const doomed = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const error = await withScope(t1, () =>
        withSiteTransaction(doomed, async (tx) => {
          await tx`insert into marker (site) values ('lost')`;
          await tx`select pg_terminate_backend(pg_backend_pid())`;
        }),
      ).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('CONNECTION_CLOSED');
      // Give a stray write on the dead socket (the driver bug we avoid) time to surface.
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await doomed.end({ timeout: 0 });
    }
    const doomedToo = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const error = await withScope(t1, () =>
        withSiteTransaction(doomedToo, async (tx) => {
          await tx`insert into marker (site) values ('lost too')`;
          await tx.savepoint((sp) => sp`select pg_terminate_backend(pg_backend_pid())`).catch(() => {});
          return 'caught the savepoint error and carried on';
        }),
      ).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('CONNECTION_CLOSED');
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await doomedToo.end({ timeout: 0 });
    }
    const [row] = await sql`select count(*)::int as n from site_t1.marker`;
    expect(row!.n).toBe(1);
  });

  it('honours isolation level and read only', async () => {
    const level = await withScope(t1, () =>
      withSiteTransaction(sql, async (tx) => (await tx`show transaction_isolation`)[0]!.transaction_isolation, {
        isolationLevel: 'serializable',
      }),
    );
    expect(level).toBe('serializable');
    const error = await withScope(t1, () =>
      withSiteTransaction(sql, (tx) => tx`insert into marker (site) values ('x')`, { readOnly: true }),
    ).catch((e: unknown) => e);
    expect((error as postgres.PostgresError).code).toBe('25006');
  });

  it('refuses to nest inside a transaction and to set the path on a pool', async () => {
    await sql.begin(async (tx) => {
      expect(() => withSiteTransaction(tx as unknown as postgres.Sql, async () => {})).toThrow(ValidationError);
    });
    expect(() => applySiteSearchPath(sql as unknown as postgres.TransactionSql, 'site_t1')).toThrow(ValidationError);
  });
});

describe('withSiteTransaction with drizzle', () => {
  it('writes and reads the site schema through drizzle, and rolls back with tx.rollback()', async () => {
    const orm = drizzle(sql);
    const seen: string[] = [];
    await expect(
      withScope(t2, () =>
        withSiteTransaction(orm, async (tx) => {
          await tx.insert(marker).values({ site: 'from drizzle' });
          seen.push(...(await tx.select().from(marker)).map((r) => r.site));
          tx.rollback();
        }),
      ),
    ).rejects.toThrow(/Rollback/);
    expect(seen.sort()).toEqual(['from drizzle', 't2']);
    const [row] = await sql`select count(*)::int as n from site_t2.marker`;
    expect(row!.n).toBe(1);
    expect(await poolSearchPath()).toBe(defaultSearchPath);
  });

  it('takes a drizzle database and hands fn a drizzle transaction', async () => {
    const orm = drizzle(sql);
    const seen = await withScope(t1, () => withSiteTransaction(orm, async (tx) => (await tx.select().from(marker)).map((r) => r.site)));
    expect(seen).toEqual(['t1']);
    const unscoped = await withSiteTransaction(orm, async (tx) => (await tx.select().from(marker)).map((r) => r.site));
    expect(unscoped).toEqual(['public']);
    expect(await poolSearchPath()).toBe(defaultSearchPath);
  });

  it('applies the search_path inside db.transaction', async () => {
    const orm = drizzle(sql);
    const seen = await orm.transaction(async (tx) => {
      await applySiteSearchPath(tx, 'site_t3');
      return (await tx.select().from(marker)).map((r) => r.site);
    });
    expect(seen).toEqual(['t3']);
    expect(() => applySiteSearchPath(orm, 'site_t3')).toThrow(ValidationError);
    expect(await poolSearchPath()).toBe(defaultSearchPath);
  });
});
