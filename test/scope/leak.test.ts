import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySiteSearchPath, getScope, withScope, withSiteTransaction } from '../../src/lib/scope/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createMarkerSites, searchPathsOfPool, type MarkerSite } from './support/sites.js';

/**
 * The bug class this library exists to prevent: a pooled connection that keeps one site's
 * search_path, or a request that reads another site's rows. 10,000 interleaved requests over
 * 50 sites on a pool of 2 connections, with throws, savepoint rollbacks and statement timeouts
 * mixed in; every request checks which site's marker row it saw.
 */

const POOL_SIZE = 2;
const SITE_COUNT = 50;
const REQUESTS = 10_000;
const CONCURRENCY = 200;

type Kind = 'ok' | 'throw' | 'throwBeforeQuery' | 'savepoint' | 'timeout' | 'unscoped' | 'nested';
const KINDS: Kind[] = [
  'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok',
  'throw', 'throw', 'throwBeforeQuery',
  'savepoint', 'savepoint', 'savepoint',
  'timeout',
  'unscoped', 'unscoped',
  'nested', 'nested', 'ok',
];

class Planned extends Error {}

let db: TestDatabase;
let sites: MarkerSite[];
let defaultSearchPath: string;

beforeAll(async () => {
  db = await createTestDatabase('indigo_scope_leak');
  sites = await createMarkerSites(db.sql, SITE_COUNT);
  const [row] = await db.sql`select current_setting('search_path') as path`;
  defaultSearchPath = row!.path as string;
});

afterAll(async () => {
  await db?.drop();
});

async function markerOf(tx: postgres.TransactionSql | postgres.Sql): Promise<string> {
  const rows = await tx`select site from marker`;
  if (rows.length !== 1) throw new Error(`expected one marker row, got ${rows.length}`);
  return rows[0]!.site as string;
}

describe('no search_path leaks across a pool of 2 connections', () => {
  it('10,000 interleaved scoped requests never see another site, and the pool ends on the default', async () => {
    const sql = postgres(db.url, { max: POOL_SIZE, onnotice: () => {} });
    const mismatches: string[] = [];
    const unexpected: unknown[] = [];
    const outcomes: Record<string, number> = {};
    const count = (outcome: string) => {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    };
    const expectSeen = (request: number, what: string, expected: string, seen: string) => {
      if (seen !== expected) mismatches.push(`request ${request} (${what}): expected ${expected}, saw ${seen}`);
    };
    // Deterministic but scattered site choice, so neighbouring requests hit different sites.
    let seed = 12345;
    const nextSite = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return sites[seed % SITE_COUNT]!;
    };

    async function request(i: number): Promise<void> {
      const kind = KINDS[i % KINDS.length]!;
      const site = nextSite();
      const other = nextSite();
      try {
        switch (kind) {
          case 'ok':
            await withScope(site, () =>
              withSiteTransaction(sql, async (tx) => {
                expectSeen(i, kind, site.marker, await markerOf(tx));
                await sleep(i % 3);
                expectSeen(i, `${kind} scope`, String(site.siteId), getScope()?.siteId ?? 'none');
                expectSeen(i, `${kind} again`, site.marker, await markerOf(tx));
              }),
            );
            return count('ok');
          case 'throw':
            await withScope(site, () =>
              withSiteTransaction(sql, async (tx) => {
                expectSeen(i, kind, site.marker, await markerOf(tx));
                throw new Planned('thrown after a query');
              }),
            );
            return count('throw did not throw');
          case 'throwBeforeQuery':
            await withScope(site, () =>
              withSiteTransaction(sql, () => {
                throw new Planned('thrown before any query');
              }),
            );
            return count('throwBeforeQuery did not throw');
          case 'savepoint':
            await withScope(site, () =>
              withSiteTransaction(sql, async (tx) => {
                await tx
                  .savepoint(async (sp) => {
                    await applySiteSearchPath(sp, other.schemaName);
                    expectSeen(i, 'inside savepoint', other.marker, await markerOf(sp));
                    throw new Planned('roll back to the savepoint');
                  })
                  .catch((error: unknown) => {
                    if (!(error instanceof Planned)) throw error;
                  });
                expectSeen(i, 'after savepoint rollback', site.marker, await markerOf(tx));
              }),
            );
            return count('savepoint');
          case 'timeout':
            await withScope(site, () =>
              withSiteTransaction(sql, async (tx) => {
                expectSeen(i, kind, site.marker, await markerOf(tx));
                await tx`select set_config('statement_timeout', '5ms', true)`;
                await tx`select pg_sleep(0.2)`;
              }),
            );
            return count('timeout did not time out');
          case 'unscoped':
            expectSeen(i, 'unscoped transaction', 'public', await withSiteTransaction(sql, (tx) => markerOf(tx)));
            expectSeen(i, 'unscoped pool query', 'public', await markerOf(sql));
            return count('unscoped');
          case 'nested':
            await withScope(site, async () => {
              await withScope(other, () =>
                withSiteTransaction(sql, async (tx) => expectSeen(i, 'inner scope', other.marker, await markerOf(tx))),
              );
              await withSiteTransaction(sql, async (tx) => expectSeen(i, 'outer scope', site.marker, await markerOf(tx)));
            });
            return count('nested');
        }
      } catch (error) {
        if (error instanceof Planned) return count(kind);
        if (kind === 'timeout' && (error as postgres.PostgresError).code === '57014') return count('timeout');
        unexpected.push(error);
      }
    }

    try {
      for (let start = 0; start < REQUESTS; start += CONCURRENCY) {
        await Promise.all(Array.from({ length: Math.min(CONCURRENCY, REQUESTS - start) }, (_, j) => request(start + j)));
      }
      const pool = await searchPathsOfPool(sql, POOL_SIZE);
      const [open] = await db.sql`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state like 'idle in transaction%'`;

      expect(unexpected.slice(0, 3)).toEqual([]);
      expect(mismatches.slice(0, 10)).toEqual([]);
      const perKind = (kind: Kind) => (REQUESTS / KINDS.length) * KINDS.filter((k) => k === kind).length;
      expect(outcomes).toEqual({
        ok: perKind('ok'),
        throw: perKind('throw'),
        throwBeforeQuery: perKind('throwBeforeQuery'),
        savepoint: perKind('savepoint'),
        timeout: perKind('timeout'),
        unscoped: perKind('unscoped'),
        nested: perKind('nested'),
      });
      expect(new Set(pool.map((c) => c.pid)).size).toBe(POOL_SIZE);
      expect(pool.map((c) => c.searchPath)).toEqual(Array(POOL_SIZE).fill(defaultSearchPath));
      expect(open!.n).toBe(0);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('the pool check does catch a session-level SET (what the library avoids)', async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`set search_path to site_t7`;
      const [conn] = await searchPathsOfPool(sql, 1);
      expect(conn!.searchPath).not.toBe(defaultSearchPath);
      expect(await markerOf(sql)).toBe('t7');
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
