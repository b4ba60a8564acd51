import { Args, Flags } from '@oclif/core';
import { IndigoCommand, migrationsDirFlag } from '../../cli/base-command.js';
import { canPrompt, missingValue, input } from '../../cli/interactive.js';
import { createMigrationFile, validateMigrationName, type CreateMigrationResult } from '../../lib/migrations/create.js';
import { siteMigrationsDir } from '../../lib/migrations/files.js';

export default class MigrateCreate extends IndigoCommand {
  static summary = 'Add an empty, registered site migration file for hand-written SQL and print its path';
  static description = 'The file is numbered after the last one and registered in meta/_journal.json (as drizzle-kit generate --custom does), so migrate:sites applies it in order and npm run db:generate keeps numbering after it. It needs no database.';
  static examples = ['<%= config.bin %> migrate:create add_word_count', '<%= config.bin %> migrate:create posts_title_index --no-transaction'];
  static args = {
    name: Args.string({ description: 'lowercase letters, digits and underscores' }),
  };
  static flags = {
    'no-transaction': Flags.boolean({ description: 'mark it to run outside a transaction (CREATE INDEX CONCURRENTLY and the like)' }),
    'migrations-dir': migrationsDirFlag,
  };

  async run(): Promise<CreateMigrationResult> {
    const { args, flags } = await this.parse(MigrateCreate);
    let { name } = args;
    if (name === undefined) {
      if (!canPrompt(this.jsonEnabled())) throw missingValue('argument NAME', 'indigo-sites migrate:create NAME');
      name = await input({ message: 'Migration name', validate: (value) => { try { validateMigrationName(value); return true; } catch (error) { return (error as Error).message; } } });
    }
    const result = await createMigrationFile({ dir: flags['migrations-dir'] ?? siteMigrationsDir(), name, noTransaction: flags['no-transaction'] });
    if (!this.jsonEnabled()) this.log(result.file);
    return result;
  }
}
