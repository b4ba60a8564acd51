import { Args } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { purgeSiteCache, type PurgeSiteCacheResult } from '../../lib/lifecycle/purge-cache.js';

export default class SitePurgeCache extends IndigoCommand {
  static summary = "Delete a site's Redis keys and job queues (SCAN + UNLINK in batches); the site itself stays";
  static description = 'Uses REDIS_URL. Without it there is nothing to purge: the command says so and exits 0.';
  static examples = ['REDIS_URL=redis://127.0.0.1:6379 <%= config.bin %> site:purge-cache acme'];
  static args = { slug: Args.string({ required: true, description: 'site slug' }) };

  async run(): Promise<PurgeSiteCacheResult> {
    const { args, flags } = await this.parse(SitePurgeCache);
    const ctx = await this.openContext(flags);
    const result = await purgeSiteCache(ctx, { slug: args.slug });
    if (result.redis.skipped) {
      this.stderr(`notice: ${result.redis.reason}`);
    } else if (!this.jsonEnabled()) {
      this.log(`Purged site ${result.site.slug}: ${result.redis.keys} Redis keys, ${result.redis.queues.length} queues with ${result.redis.jobs} jobs.`);
    }
    return result;
  }
}
