import { Args, Flags } from '@oclif/core';
import { resolveSiteFlag, siteFlag } from '../../cli/active-site.js';
import { IndigoCommand } from '../../cli/base-command.js';
import { baseDomainFlag, domainLabel, parseBaseDomainFlag, renderChallenge } from '../../cli/domain-view.js';
import { canPrompt, missingValue, input } from '../../cli/interactive.js';
import { addDomain, type AddDomainResult } from '../../lib/domains/domains.js';
import { normalizeDomain } from '../../lib/domains/normalize.js';
import { ValidationError } from '../../lib/errors.js';

export default class DomainAdd extends IndigoCommand {
  static summary = 'Attach a custom domain to a site and print the DNS TXT record that proves ownership';
  static description = [
    'The domain is stored as pending with a fresh random token. Publish the printed TXT record at _indigo-challenge.<domain>, then run domain:verify (or let domain:verify --all / domain:worker pick it up). The token expires after 7 days; --renew issues a fresh one.',
    "A domain attached to any site (a soft-deleted one too) is refused (exit 4), as is a name under a domain another site has verified, the network's base domain and names under it, public suffixes and IP addresses (exit 2).",
  ].join('\n\n');
  static examples = [
    '<%= config.bin %> domain:add shop.example.com --site acme',
    '<%= config.bin %> domain:add shop.example.com --site acme --primary --json',
    '<%= config.bin %> domain:add shop.example.com --site acme --renew',
  ];
  static args = {
    domain: Args.string({ description: 'the domain, e.g. shop.example.com (case, a trailing dot, a port and Unicode spellings are normalised)' }),
  };
  static flags = {
    site: siteFlag,
    primary: Flags.boolean({ description: "make it the site's primary domain" }),
    renew: Flags.boolean({ description: 'the domain is already this site’s and not verified: issue a fresh token' }),
    'base-domain': baseDomainFlag,
  };

  async run(): Promise<AddDomainResult> {
    const { args, flags } = await this.parse(DomainAdd);
    const baseDomain = parseBaseDomainFlag(flags['base-domain']);
    let { domain } = args;
    if (domain === undefined) {
      if (!canPrompt(this.jsonEnabled())) throw missingValue('argument DOMAIN', 'indigo-sites domain:add DOMAIN --site SLUG');
      domain = await input({ message: 'Domain', validate: (value) => ruleBroken(value, baseDomain) ?? true });
    }
    // Validate before connecting: bad input never touches the database.
    normalizeDomain(domain, { baseDomain: baseDomain ?? undefined });
    const ctx = await this.openContext(flags);
    const site = await resolveSiteFlag(this, flags, ctx);
    const result = await addDomain(ctx, { site, domain, primary: flags.primary, renew: flags.renew, baseDomain });
    if (!this.jsonEnabled()) {
      const { domain: added } = result;
      const what = result.created ? `Added ${domainLabel(added.domain)} to site ${added.siteSlug}` : `Issued a fresh token for ${domainLabel(added.domain)} of site ${added.siteSlug}`;
      this.log(`${what}${added.isPrimary ? ' as its primary domain' : ''}: pending until verified; the token expires ${added.tokenExpiresAt?.toISOString()}.`);
      this.log('Publish this DNS record:\n');
      this.log(renderChallenge(result.record));
      this.log(`\nthen run: ${this.config.bin} domain:verify ${added.domain}`);
    }
    return result;
  }
}

function ruleBroken(value: string, baseDomain: string | null): string | null {
  try {
    normalizeDomain(value, { baseDomain: baseDomain ?? undefined });
    return null;
  } catch (error) {
    if (error instanceof ValidationError) return error.message;
    throw error;
  }
}
