import { Command, Flags } from '@oclif/core';
import { openDatabase, type DatabaseHandle } from '../lib/db/connect.js';
import { currentOsUser } from '../lib/db/embedded.js';
import type { Actor, IndigoContext, Logger } from '../lib/context.js';
import { ExitCode, IndigoError, NotInitialisedError } from '../lib/errors.js';
import { assertNetworkInitialised, initNetwork } from '../lib/network/init.js';
import { siteMigrationsDir } from '../lib/migrations/files.js';
import { resolveActor } from '../lib/actor.js';
import { normalizeEmail } from '../lib/users/email.js';
import { err as errColors } from './output.js';


/**
 * What every command shares: the database connection (a URL or the embedded PostgreSQL), the
 * context passed to the library, `--json`, and the one place where errors become exit codes.
 */
/** `--migrations-dir` of the migrate:* commands, under the name the README and DESIGN.md give its variable. */
export const migrationsDirFlag = Flags.string({ env: 'INDIGO_SITE_MIGRATIONS', description: 'folder of the site migrations (default: the packaged migrations/site)' });

export abstract class IndigoCommand extends Command {
  static enableJsonFlag = true;

  static baseFlags = {
    'database-url': Flags.string({
      env: 'DATABASE_URL',
      helpGroup: 'GLOBAL',
      description: 'PostgreSQL URL of the network database (default: the embedded PostgreSQL)',
    }),
    'data-dir': Flags.string({
      env: 'INDIGO_DATA_DIR',
      helpGroup: 'GLOBAL',
      description: 'data folder of the embedded PostgreSQL',
    }),
    debug: Flags.boolean({ helpGroup: 'GLOBAL', description: 'print stack traces of errors' }),
    as: Flags.string({
      env: 'INDIGO_ACTOR',
      helpGroup: 'GLOBAL',
      helpValue: 'EMAIL',
      description: "act as this user, with the user's network role (default: the local operator, with full rights)",
    }),
  };

  /**
   * Commands that open connections of their own (migrate:sites: N workers + 1 lock) let the
   * context's pool drop its idle connection, so the database sees no more than they promise.
   */
  protected idleTimeoutSeconds?: number;

  /** `init` itself works on a database that is not initialised yet. */
  protected requiresInitialisedNetwork = true;
  private database?: DatabaseHandle;

  protected readonly log$: Logger = {
    info: (message) => this.stderr(message),
    warn: (message) => this.stderr(errColors.yellow(`warning: ${message}`)),
    debug: (message) => {
      if (this.debugEnabled()) this.stderr(errColors.dim(message));
    },
  };

  /**
   * Every flag can also come from an `INDIGO_<FLAG>` variable (DESIGN.md), except the ones that
   * confirm something destructive: a variable left in a shell must never answer for the operator.
   */
  async init(): Promise<void> {
    for (const [name, flag] of Object.entries({ ...this.ctor.baseFlags, ...this.ctor.flags })) {
      if (!flag.env && !NEVER_FROM_ENV.has(name)) flag.env = `INDIGO_${name.toUpperCase().replaceAll('-', '_')}`;
    }
    await super.init();
  }

  /** Notices, warnings and progress: always stderr, also with --json (oclif's logToStderr is silent then). */
  protected stderr(message: string): void {
    process.stderr.write(`${message}\n`);
  }

  protected async openContext(flags: { 'database-url'?: string; 'data-dir'?: string; as?: string }): Promise<IndigoContext> {
    // A malformed email is a usage error before anything is opened.
    const actAs = flags.as ? normalizeEmail(flags.as) : undefined;
    this.database = await openDatabase({
      databaseUrl: flags['database-url'] || undefined,
      dataDir: flags['data-dir'],
      idleTimeoutSeconds: this.idleTimeoutSeconds,
      onNotice: (message) => this.stderr(errColors.dim(message)),
    });
    const ctx: IndigoContext = {
      sql: this.database.sql,
      actor: this.actor(),
      log: this.log$,
      siteMigrationsDir: siteMigrationsDir(),
    };
    if (this.requiresInitialisedNetwork) {
      try {
        await assertNetworkInitialised(this.database.sql, this.database.target);
      } catch (error) {
        // A newcomer's first command on the embedded database sets the network up by itself.
        if (!(error instanceof NotInitialisedError) || !this.database.embedded) throw error;
        const result = await initNetwork(ctx);
        if (result.changed) this.stderr(errColors.dim('initialised the network on the embedded PostgreSQL'));
      }
    }
    if (actAs) ctx.actor = await resolveActor(this.database.sql, actAs);
    return ctx;
  }

  protected actor(): Actor {
    return { kind: 'operator', name: currentOsUser() };
  }

  protected debugEnabled(): boolean {
    return this.argv.includes('--debug') || /(^|,)indigo/.test(process.env.DEBUG ?? '');
  }

  protected async finally(error: Error | undefined): Promise<void> {
    await this.database?.close().catch(() => {});
    return super.finally(error);
  }

  /** JSON output is one plain document on stdout, never colourised. */
  logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }

  async catch(error: Error & { exitCode?: number; oclif?: { exit?: number }; code?: string }): Promise<void> {
    const exitCode = exitCodeOf(error);
    process.exitCode = exitCode;
    const code = error instanceof IndigoError ? error.code : exitCode === ExitCode.usage ? 'USAGE' : exitCode === ExitCode.cancelled ? 'CANCELLED' : 'UNEXPECTED';
    const message = exitCode === ExitCode.cancelled ? 'cancelled' : error.message;
    if (this.jsonEnabled()) {
      this.logJson({ error: { code, message, exitCode, ...(error instanceof IndigoError && error.details ? { details: error.details } : {}) } });
    } else {
      this.stderr(`${errColors.red('Error:')} ${message}`);
    }
    if (this.debugEnabled() && error.stack) this.stderr(errColors.dim(error.stack));
  }
}

// json and debug are read from argv by oclif and by debugEnabled(); the others confirm destructive actions.
const NEVER_FROM_ENV = new Set(['confirm', 'force', 'hard', 'yes', 'help', 'json', 'debug']);

export function exitCodeOf(error: Error & { exitCode?: number; oclif?: { exit?: number } }): number {
  if (error instanceof IndigoError) return error.exitCode;
  if (error.name === 'ExitPromptError' || error.name === 'AbortPromptError') return ExitCode.cancelled;
  if (typeof error.oclif?.exit === 'number') return error.oclif.exit;
  return ExitCode.unexpected;
}
