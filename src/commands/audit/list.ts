import { Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import type { AuditEntry } from '../../lib/audit.js';
import { DEFAULT_AUDIT_LIMIT, listAuditEntries, MAX_AUDIT_LIMIT } from '../../lib/lifecycle/audit.js';

export default class AuditList extends IndigoCommand {
  static summary = 'Show the audit log, newest first: who changed what, on which site, when';
  static examples = ['<%= config.bin %> audit:list', '<%= config.bin %> audit:list --site acme --limit 20 --json'];
  static flags = {
    site: Flags.string({ description: 'only entries of this site (also after it was hard-deleted)' }),
    limit: Flags.integer({ description: `how many entries (default ${DEFAULT_AUDIT_LIMIT})`, min: 1, max: MAX_AUDIT_LIMIT }),
  };

  async run(): Promise<AuditEntry[]> {
    const { flags } = await this.parse(AuditList);
    const ctx = await this.openContext(flags);
    const entries = await listAuditEntries(ctx, { site: flags.site, limit: flags.limit });
    if (!this.jsonEnabled()) {
      if (entries.length === 0) this.log('No audit entries.');
      else {
        this.log(renderTable(
          ['id', 'at', 'actor', 'action', 'site', 'details'],
          entries.map((entry) => [entry.id, entry.at, entry.actor, entry.action, entry.siteSlug, truncate(JSON.stringify(entry.details), 80)]),
        ));
      }
    }
    return entries;
  }
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
