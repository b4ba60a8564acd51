import { Args } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { baseDomainFlag, parseBaseDomainFlag } from '../../cli/domain-view.js';
import { out, renderRecord } from '../../cli/output.js';
import { explainHost, type HostExplanation } from '../../lib/domains/resolve.js';
import { ExitCode } from '../../lib/errors.js';

export default class SiteResolve extends IndigoCommand {
  static summary = 'Show which site a host name resolves to, and why';
  static description =
    'Resolves HOST exactly as resolveHost and applySiteHeaders do (a verified custom domain, else <slug>.<base domain>; unverified domains and soft-deleted sites never resolve) and explains the answer. Exits 3 when the host resolves to no site.';
  static examples = ['<%= config.bin %> site:resolve shop.example.com', '<%= config.bin %> site:resolve acme.sites.example.net:443 --base-domain sites.example.net --json'];
  static args = { host: Args.string({ required: true, description: 'a host name or Host header value' }) };
  static flags = { 'base-domain': baseDomainFlag };

  async run(): Promise<HostExplanation> {
    const { args, flags } = await this.parse(SiteResolve);
    const baseDomain = parseBaseDomainFlag(flags['base-domain']);
    const ctx = await this.openContext(flags);
    const explanation = await explainHost(ctx, args.host, { baseDomain });
    if (explanation.site === null) process.exitCode = ExitCode.notFound;
    if (!this.jsonEnabled()) {
      const { site } = explanation;
      this.log(renderRecord([
        ['host', explanation.host],
        ['looked up', explanation.normalized],
        ['site', site ? `${site.slug} (id ${site.siteId}, schema ${site.schemaName}, ${site.status === 'active' ? out.green('active') : out.yellow(site.status)})` : out.red('none')],
        ['matched by', explanation.matchedBy === 'domain' ? 'verified custom domain' : explanation.matchedBy === 'subdomain' ? 'slug subdomain of the base domain' : '-'],
        ['why', explanation.reason],
      ]));
    }
    return explanation;
  }
}
