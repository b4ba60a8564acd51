import { Args } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { domainLabel, renderDomain } from '../../cli/domain-view.js';
import { parseStoredDomain, setPrimaryDomain, type SetPrimaryDomainResult } from '../../lib/domains/domains.js';

export default class DomainPrimary extends IndigoCommand {
  static summary = "Make a domain its site's primary domain (one per site)";
  static examples = ['<%= config.bin %> domain:primary shop.example.com'];
  static args = { domain: Args.string({ required: true, description: 'the domain' }) };

  async run(): Promise<SetPrimaryDomainResult> {
    const { args, flags } = await this.parse(DomainPrimary);
    const domain = parseStoredDomain(args.domain);
    const ctx = await this.openContext(flags);
    const result = await setPrimaryDomain(ctx, { domain });
    if (!this.jsonEnabled()) {
      const { domain: primary } = result;
      this.log(!result.changed
        ? `${domainLabel(primary.domain)} already is the primary domain of site ${primary.siteSlug}: nothing changed.`
        : `${domainLabel(primary.domain)} is now the primary domain of site ${primary.siteSlug}${result.previous ? ` (was ${result.previous})` : ''}.`);
      this.log(renderDomain(primary));
    }
    return result;
  }
}
