import { Flags } from '@oclif/core';
import { IndigoCommand } from '../cli/base-command.js';
import { renderRecord } from '../cli/output.js';
import { initNetwork, type InitNetworkResult } from '../lib/network/init.js';

export default class Init extends IndigoCommand {
  static summary = 'Create or upgrade the network tables and seed the network admin site';
  static description = 'Applies pending network (shared) migrations, creates the network admin site and, with --admin-email, a superadmin user. Safe to run again: a second run changes nothing.';
  static aliases = ['db:migrate'];
  static examples = ['<%= config.bin %> init', '<%= config.bin %> init --admin-email ops@example.com'];
  static flags = {
    'admin-email': Flags.string({ env: 'INDIGO_ADMIN_EMAIL', description: 'email of the first superadmin user' }),
  };

  protected requiresInitialisedNetwork = false;

  async run(): Promise<InitNetworkResult> {
    const { flags } = await this.parse(Init);
    const ctx = await this.openContext(flags);
    const result = await initNetwork(ctx, { adminEmail: flags['admin-email'] });
    if (!this.jsonEnabled()) {
      this.log(result.changed ? 'Network initialised.' : 'Network already initialised: nothing to do.');
      this.log(renderRecord([
        ['network migrations applied', result.sharedMigrationsApplied.join(', ') || 'none'],
        ['network admin site', `${result.networkAdminSite.slug}${result.networkAdminSite.created ? ' (created)' : ''}`],
        ...(result.adminUser
          ? [['superadmin', `${result.adminUser.email}${result.adminUser.created ? ' (created)' : result.adminUser.promoted ? ' (promoted)' : ''}`] as [string, unknown]]
          : []),
      ]));
    }
    return result;
  }
}
