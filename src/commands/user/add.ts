import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { canPrompt, missingValue, input, select } from '../../cli/interactive.js';
import { renderRecord } from '../../cli/output.js';
import { checkEmail, normalizeEmail } from '../../lib/users/email.js';
import { addUser, NETWORK_ROLES, validateUserName, type User } from '../../lib/users/users.js';

export default class UserAdd extends IndigoCommand {
  static summary = 'Add a network user: a possible site member, or with --network-role an operator of the network';
  static description = 'Network roles: none (may only be a site member), staff (may list sites, show stats and choose the active site), superadmin (may do everything).';
  static examples = ['<%= config.bin %> user:add ana@example.com --name "Ana Lima"', '<%= config.bin %> user:add ops@example.com --network-role superadmin --json'];
  static args = {
    email: Args.string({ description: 'email address, unique case-insensitively' }),
  };
  static flags = {
    name: Flags.string({ description: 'display name' }),
    'network-role': Flags.string({ options: [...NETWORK_ROLES], description: 'rights on the whole network (default: none)' }),
  };

  async run(): Promise<User> {
    const { args, flags } = await this.parse(UserAdd);
    let { email } = args;
    let { name } = flags;
    let networkRole = flags['network-role'];
    if (email === undefined) {
      if (!canPrompt(this.jsonEnabled())) throw missingValue('argument EMAIL', 'indigo-sites user:add EMAIL');
      email = await input({ message: 'Email', validate: (value) => { const check = checkEmail(value); return check.ok || check.rule; } });
      name ??= (await input({ message: 'Name (optional)' })) || undefined;
      networkRole ??= await select({ message: 'Network role', choices: [...NETWORK_ROLES], default: 'none' });
    }
    normalizeEmail(email);
    if (name !== undefined) validateUserName(name);
    const ctx = await this.openContext(flags);
    const user = await addUser(ctx, { email, name, networkRole });
    if (!this.jsonEnabled()) {
      this.log(`Added user ${user.email}.`);
      this.log(renderRecord([
        ['email', user.email],
        ['name', user.name],
        ['network role', user.networkRole],
        ['id', user.id],
        ['created', user.createdAt],
      ]));
    }
    return user;
  }
}
