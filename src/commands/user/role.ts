import { Args } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { normalizeEmail } from '../../lib/users/email.js';
import { NETWORK_ROLES, setUserNetworkRole, type SetNetworkRoleResult } from '../../lib/users/users.js';

export default class UserRole extends IndigoCommand {
  static summary = "Change a user's network role: none, staff or superadmin";
  static examples = ['<%= config.bin %> user:role ana@example.com staff'];
  static args = {
    email: Args.string({ required: true, description: 'email of the user' }),
    role: Args.string({ required: true, options: [...NETWORK_ROLES], description: 'new network role' }),
  };

  async run(): Promise<SetNetworkRoleResult> {
    const { args, flags } = await this.parse(UserRole);
    normalizeEmail(args.email);
    const ctx = await this.openContext(flags);
    const result = await setUserNetworkRole(ctx, { email: args.email, networkRole: args.role });
    if (!this.jsonEnabled()) {
      this.log(result.changed
        ? `${result.user.email}: network role ${result.previousRole} → ${result.user.networkRole}.`
        : `${result.user.email} already has network role ${result.user.networkRole}: nothing changed.`);
    }
    return result;
  }
}
