import { Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { domainLabel, stateLabel } from '../../cli/domain-view.js';
import { out, renderTable } from '../../cli/output.js';
import { DOMAIN_STATES, listDomains, type DomainState, type SiteDomain } from '../../lib/domains/domains.js';

export default class DomainList extends IndigoCommand {
  static summary = 'List custom domains with their verification state';
  static examples = [
    '<%= config.bin %> domain:list',
    '<%= config.bin %> domain:list --site acme',
    '<%= config.bin %> domain:list --status failed --json',
  ];
  static flags = {
    site: Flags.string({ helpValue: 'SLUG', description: "only this site's domains (default: every site's)" }),
    status: Flags.string({ options: [...DOMAIN_STATES], description: 'only domains in this state' }),
  };

  async run(): Promise<SiteDomain[]> {
    const { flags } = await this.parse(DomainList);
    const ctx = await this.openContext(flags);
    const domains = await listDomains(ctx, { site: flags.site, status: flags.status as DomainState | undefined });
    if (!this.jsonEnabled()) {
      if (domains.length === 0) this.log('No domains.');
      else {
        this.log(renderTable(
          ['domain', 'site', 'state', 'primary', 'verified', 'last checked', 'last error'],
          domains.map((d) => [
            domainLabel(d.domain),
            d.siteSlug + (d.siteDeleted ? out.red(' (deleted)') : ''),
            stateLabel(d.verificationState) + (d.tokenExpired ? out.red(' (token expired)') : ''),
            d.isPrimary ? 'yes' : '',
            d.verifiedAt,
            d.lastCheckedAt,
            d.lastError && d.lastError.length > 60 ? `${d.lastError.slice(0, 57)}...` : d.lastError,
          ]),
        ));
        this.log(`${domains.length} domain${domains.length === 1 ? '' : 's'}`);
      }
    }
    return domains;
  }
}
