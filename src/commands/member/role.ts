import { Args } from '@oclif/core';
import { siteFlag, resolveSiteFlag } from '../../cli/active-site.js';
import { IndigoCommand } from '../../cli/base-command.js';
import { MEMBER_ROLES, setMemberRole, type SetMemberRoleResult } from '../../lib/members/members.js';
import { normalizeEmail } from '../../lib/users/email.js';

export default class MemberRole extends IndigoCommand {
  static summary = "Change a member's role on a site (the last owner cannot be demoted)";
  static examples = ['<%= config.bin %> member:role --site acme ben@example.com admin'];
  static args = {
    email: Args.string({ required: true, description: 'email of the member' }),
    role: Args.string({ required: true, options: [...MEMBER_ROLES], description: 'new role' }),
  };
  static flags = { site: siteFlag };

  async run(): Promise<SetMemberRoleResult> {
    const { args, flags } = await this.parse(MemberRole);
    normalizeEmail(args.email);
    const ctx = await this.openContext(flags);
    const site = await resolveSiteFlag(this, flags, ctx);
    const result = await setMemberRole(ctx, { site, email: args.email, role: args.role });
    if (!this.jsonEnabled()) {
      this.log(result.changed
        ? `${result.member.email} on ${site}: ${result.previousRole} → ${result.member.role}.`
        : `${result.member.email} already is ${result.member.role} of ${site}: nothing changed.`);
    }
    return result;
  }
}
