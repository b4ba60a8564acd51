import { Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listUsers, NETWORK_ROLES, type UserListItem } from '../../lib/users/users.js';

export default class UserList extends IndigoCommand {
  static summary = 'List network users with their network role and how many sites they belong to';
  static examples = ['<%= config.bin %> user:list', '<%= config.bin %> user:list --network-role superadmin --json'];
  static flags = {
    'network-role': Flags.string({ options: [...NETWORK_ROLES], description: 'only users with this network role' }),
  };

  async run(): Promise<UserListItem[]> {
    const { flags } = await this.parse(UserList);
    const ctx = await this.openContext(flags);
    const users = await listUsers(ctx, { networkRole: flags['network-role'] });
    if (!this.jsonEnabled()) {
      if (users.length === 0) this.log('No users.');
      else {
        this.log(renderTable(
          ['email', 'name', 'network role', 'sites', 'created'],
          users.map((user) => [user.email, user.name, user.networkRole, user.siteCount, user.createdAt]),
        ));
        this.log(`${users.length} user${users.length === 1 ? '' : 's'}`);
      }
    }
    return users;
  }
}
