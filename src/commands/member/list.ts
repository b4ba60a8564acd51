import { siteFlag, resolveSiteFlag } from '../../cli/active-site.js';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listMembers, type Member } from '../../lib/members/members.js';

export default class MemberList extends IndigoCommand {
  static summary = "List a site's members, owners first";
  static examples = ['<%= config.bin %> member:list --site acme', '<%= config.bin %> member:list --json'];
  static flags = { site: siteFlag };

  async run(): Promise<Member[]> {
    const { flags } = await this.parse(MemberList);
    const ctx = await this.openContext(flags);
    const site = await resolveSiteFlag(this, flags, ctx);
    const members = await listMembers(ctx, { site });
    if (!this.jsonEnabled()) {
      if (members.length === 0) this.log(`${site} has no members.`);
      else {
        this.log(renderTable(
          ['email', 'name', 'role', 'network role', 'member since'],
          members.map((member) => [member.email, member.name, member.role, member.networkRole, member.createdAt]),
        ));
        this.log(`${members.length} member${members.length === 1 ? '' : 's'} of ${site}`);
      }
    }
    return members;
  }
}
