import { Args, Flags } from '@oclif/core';
import { siteFlag, resolveSiteFlag } from '../../cli/active-site.js';
import { IndigoCommand } from '../../cli/base-command.js';
import { canPrompt, missingValue, input, select } from '../../cli/interactive.js';
import { addMember, MEMBER_ROLES, validateMemberRole, type AddMemberResult } from '../../lib/members/members.js';
import { checkEmail, normalizeEmail } from '../../lib/users/email.js';
import { validateUserName } from '../../lib/users/users.js';

export default class MemberAdd extends IndigoCommand {
  static summary = 'Add a user to a site with a role: owner, admin, editor or viewer';
  static description = 'The user must exist (user:add), unless --create-user creates it with network role none. Adding a member again with the same role changes nothing.';
  static examples = [
    '<%= config.bin %> member:add --site acme ana@example.com --role owner',
    '<%= config.bin %> member:add ben@example.com --role editor --create-user --name "Ben Ode"',
  ];
  static args = {
    email: Args.string({ description: 'email of the user' }),
  };
  static flags = {
    site: siteFlag,
    role: Flags.string({ options: [...MEMBER_ROLES], description: 'role on the site' }),
    'create-user': Flags.boolean({ description: 'create the user when no user has this email' }),
    name: Flags.string({ description: 'name of a user created by --create-user' }),
  };

  async run(): Promise<AddMemberResult> {
    const { args, flags } = await this.parse(MemberAdd);
    let { email } = args;
    let { role } = flags;
    const interactive = canPrompt(this.jsonEnabled());
    if (email === undefined) {
      if (!interactive) throw missingValue('argument EMAIL', 'indigo-sites member:add --site SLUG EMAIL --role ROLE');
      email = await input({ message: 'Email', validate: (value) => { const check = checkEmail(value); return check.ok || check.rule; } });
    }
    if (role === undefined) {
      if (!interactive) throw missingValue('flag --role', `--role ${MEMBER_ROLES.join('|')}`);
      role = await select({ message: 'Role', choices: [...MEMBER_ROLES], default: 'editor' });
    }
    normalizeEmail(email);
    validateMemberRole(role);
    if (flags.name !== undefined) validateUserName(flags.name);
    const ctx = await this.openContext(flags);
    const site = await resolveSiteFlag(this, flags, ctx);
    const result = await addMember(ctx, { site, email, role, createUser: flags['create-user'], name: flags.name });
    if (!this.jsonEnabled()) {
      const { member } = result;
      this.log(result.changed
        ? `Added ${member.email} to ${site} as ${member.role}${result.userCreated ? ' (new user)' : ''}.`
        : `${member.email} already is ${member.role} of ${site}: nothing changed.`);
    }
    return result;
  }
}
