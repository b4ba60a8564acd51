import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { domainLabel, renderDomain } from '../../cli/domain-view.js';
import { canPrompt, missingValue, input } from '../../cli/interactive.js';
import { out } from '../../cli/output.js';
import { parseStoredDomain, removeDomain, type SiteDomain } from '../../lib/domains/domains.js';
import { normalizeHost } from '../../lib/domains/normalize.js';
import { ValidationError } from '../../lib/errors.js';

export default class DomainRemove extends IndigoCommand {
  static summary = 'Detach a domain from its site: the site stops answering on it at once';
  static description =
    'The domain must be typed again to confirm: at the prompt on a terminal, or with --confirm DOMAIN in scripts. With --site, the domain must belong to that site (a guard against removing the wrong one). Adding it back needs a new DNS verification.';
  static examples = [
    '<%= config.bin %> domain:remove shop.example.com',
    '<%= config.bin %> domain:remove shop.example.com --site acme --confirm shop.example.com --json',
  ];
  static args = { domain: Args.string({ required: true, description: 'the domain' }) };
  static flags = {
    site: Flags.string({ helpValue: 'SLUG', description: 'refuse unless the domain belongs to this site' }),
    confirm: Flags.string({ helpValue: 'DOMAIN', description: 'the domain again, to confirm without a prompt' }),
  };

  async run(): Promise<{ domain: SiteDomain }> {
    const { args, flags } = await this.parse(DomainRemove);
    const domain = parseStoredDomain(args.domain);
    let { confirm } = flags;
    if (confirm === undefined) {
      if (!canPrompt(this.jsonEnabled())) throw missingValue('flag --confirm', `indigo-sites domain:remove ${domain} --confirm ${domain}`);
      confirm = await input({ message: `This detaches ${domain} from its site, which stops answering on it. Type ${out.bold(domain)} to confirm` });
    }
    if (normalizeHost(confirm) !== domain) {
      throw new ValidationError(`the confirmation ${JSON.stringify(confirm)} is not ${domain}: nothing was removed`, { domain, confirm });
    }
    const ctx = await this.openContext(flags);
    const result = await removeDomain(ctx, { domain, site: flags.site });
    if (!this.jsonEnabled()) {
      this.log(`Removed ${domainLabel(result.domain.domain)} from site ${result.domain.siteSlug}.`);
      this.log(renderDomain(result.domain));
    }
    return result;
  }
}
