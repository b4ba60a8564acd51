import { createPool, type Sql } from '../../src/lib/db/connect.js';
import { silentLogger, type Actor, type IndigoContext } from '../../src/lib/context.js';
import { initNetwork } from '../../src/lib/network/init.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const operator: Actor = { kind: 'operator', name: 'test-operator' };

export interface TestNetwork extends TestDatabase {
  ctx: IndigoContext;
  pool: Sql;
}

/** A database of its own with the network tables and admin site, and a context to call the library with. */
export async function createTestNetwork(options: { siteMigrationsDir?: string } = {}): Promise<TestNetwork> {
  const database = await createTestDatabase();
  const pool = createPool(database.url, { max: 4 });
  const ctx: IndigoContext = { sql: pool, actor: operator, log: silentLogger, siteMigrationsDir: options.siteMigrationsDir };
  await initNetwork(ctx);
  return {
    ...database,
    ctx,
    pool,
    async drop() {
      await pool.end({ timeout: 5 });
      await database.drop();
    },
  };
}
