import { Args } from '@oclif/core';
import { siteFlag, resolveSiteFlag } from '../../cli/active-site.js';
import { IndigoCommand } from '../../cli/base-command.js';
import { removeMember, type Member } from '../../lib/members/members.js';
import { normalizeEmail } from '../../lib/users/email.js';

export default class MemberRemove extends IndigoCommand {
  static summary = 'Remove a member from a site (the last owner cannot be removed)';
  static examples = ['<%= config.bin %> member:remove --site acme ben@example.com'];
  static args = {
    email: Args.string({ required: true, description: 'email of the member' }),
  };
  static flags = { site: siteFlag };

  async run(): Promise<{ removed: Member }> {
    const { args, flags } = await this.parse(MemberRemove);
    normalizeEmail(args.email);
    const ctx = await this.openContext(flags);
    const site = await resolveSiteFlag(this, flags, ctx);
    const result = await removeMember(ctx, { site, email: args.email });
    if (!this.jsonEnabled()) this.log(`Removed ${result.removed.email} (${result.removed.role}) from ${site}.`);
    return result;
  }
}
