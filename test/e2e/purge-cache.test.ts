import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSite } from '../../src/index.js';
import { json, runCli } from '../support/cli.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { connect, countByPrefix, deleteByPrefix, redisUnavailableReason, redisUrl, skipNotice } from '../scope/support/redis.js';

const unavailable = await redisUnavailableReason();
skipNotice('test/e2e/purge-cache.test.ts', unavailable);

let net: TestNetwork;
const ids: Record<string, number> = {};
beforeAll(async () => {
  net = await createTestNetwork();
  // Site ids far from other test files' (Redis is shared and keys are site:<id>:…).
  await net.sql`select setval(pg_get_serial_sequence('sites', 'id'), ${randomInt(1e9, 2e9)})`;
  for (const slug of ['target', 'bystander']) ids[slug] = (await createSite(net.ctx, { slug })).site.id;
});
afterAll(async () => {
  if (!unavailable) {
    const redis = connect();
    for (const id of Object.values(ids)) await deleteByPrefix(redis, `site:${id}:`);
    redis.disconnect();
  }
  await net?.drop();
});

describe('site:purge-cache', () => {
  it('without REDIS_URL says there is nothing to purge and exits 0', async () => {
    const result = await runCli(['site:purge-cache', 'target', '--database-url', net.url, '--json'], { env: { REDIS_URL: undefined } });
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).redis).toMatchObject({ skipped: true });
    expect(result.stderr).toMatch(/REDIS_URL is not set/);
  });

  it('a missing site exits 3', async () => {
    const result = await runCli(['site:purge-cache', 'nope', '--database-url', net.url], { env: { REDIS_URL: undefined } });
    expect(result.code).toBe(3);
  });

  describe.skipIf(unavailable !== null)('with Redis', () => {
    it("deletes exactly the site's keys and audits it", async () => {
      const redis = connect();
      try {
        const pipeline = redis.pipeline();
        for (let i = 0; i < 2500; i++) {
          pipeline.set(`site:${ids.target}:k${i}`, 'x');
          pipeline.set(`site:${ids.bystander}:k${i}`, 'y');
        }
        await pipeline.exec();
        const result = await runCli(['site:purge-cache', 'target', '--database-url', net.url, '--json'], { env: { REDIS_URL: redisUrl } });
        expect(result.code, result.stderr).toBe(0);
        expect(json(result).redis).toMatchObject({ skipped: false, keys: 2500 });
        expect(await countByPrefix(redis, `site:${ids.target}:`)).toBe(0);
        expect(await countByPrefix(redis, `site:${ids.bystander}:`)).toBe(2500);
        const [audit] = await net.sql`select details from audit_log where action = 'site.purgeCache' and site_slug = 'target'`;
        expect(audit.details).toMatchObject({ keys: 2500 });
      } finally {
        redis.disconnect();
      }
    });
  });
});
