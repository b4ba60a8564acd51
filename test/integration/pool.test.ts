import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('indigo_pool');
  await db.sql`create type mood as enum ('calm', 'busy')`;
});
afterAll(async () => {
  await db?.drop();
});

/** Every statement one pool sends from connecting to its first query's answer, its own set-up included (postgres.js's debug hook sees them all). */
async function statementsSent(options: Parameters<typeof createPool>[1] = {}): Promise<string[]> {
  const sent: string[] = [];
  const sql = createPool(db.url, { max: 1, ...options, debug: (_connection: number, text: string) => sent.push(text) });
  try {
    await sql`select 1`;
  } finally {
    await sql.end();
  }
  return sent;
}

describe('createPool', () => {
  it('does not read the array types from pg_type when it connects (the query grows with every site table)', async () => {
    expect(await statementsSent()).toEqual(['select 1']);
    expect((await statementsSent({ fetch_types: true })).some((text) => text.includes('pg_catalog.pg_type'))).toBe(true);
  });

  it('sends and parses arrays of built-in types exactly as postgres.js does after reading pg_type', async () => {
    const texts = ['plain', 'with,comma', 'with "quotes"', 'back\\slash', '{braces}', '', 'NULL'];
    const query = (sql: ReturnType<typeof createPool>) => sql`
      select ${texts}::text[] as texts, ${[1, 2, 3]}::int[] as ints, ${[2 ** 40, 7]}::bigint[] as bigints,
        ${sql.array([true, false])} as bools, ${[JSON.stringify({ a: 1 })]}::jsonb[] as docs, array['{"b":2}'::json] as json,
        array[timestamptz '2026-01-02T03:04:05Z'] as times, array[[1, 2], [3, 4]] as matrix, array[1.5, null]::numeric[] as numbers,
        array[box '((0,0),(1,1))', box '((2,2),(3,3))'] as boxes, 'busy' = any(${['calm', 'busy']}) as found`;
    const plain = createPool(db.url, { max: 1 });
    const fetching = createPool(db.url, { max: 1, fetch_types: true });
    try {
      await fetching`select 1`; // its array types are read on connecting; sql.array needs them before building a query
      const [row] = await query(plain);
      expect(row).toEqual((await query(fetching))[0]);
      expect(row).toMatchObject({ texts, ints: [1, 2, 3], bigints: [2 ** 40, 7], bools: [true, false], matrix: [[1, 2], [3, 4]], found: true });
    } finally {
      await Promise.all([plain.end(), fetching.end()]);
    }
  });

  it('leaves arrays of user-defined types as text unless fetch_types is asked for', async () => {
    const query = (sql: ReturnType<typeof createPool>) => sql`select array['calm', 'busy']::mood[] as moods`;
    const plain = createPool(db.url, { max: 1 });
    const fetching = createPool(db.url, { max: 1, fetch_types: true });
    try {
      expect((await query(plain))[0].moods).toBe('{calm,busy}');
      expect((await query(fetching))[0].moods).toEqual(['calm', 'busy']);
    } finally {
      await Promise.all([plain.end(), fetching.end()]);
    }
  });
});
