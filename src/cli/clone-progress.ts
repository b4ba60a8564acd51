import type { ClonePhase, CloneProgressEvent } from '../lib/lifecycle/clone.js';
import { countOf } from '../lib/labels.js';
import { err } from './output.js';

export interface CloneProgress {
  onProgress(event: CloneProgressEvent): void;
  /** Settles the display: every open step is marked failed when `error` is given. */
  finish(error?: unknown): Promise<void>;
}

const PHASE_TITLES: Record<ClonePhase, string> = {
  structure: 'Create schema, enums, sequences and tables',
  rows: 'Copy rows',
  indexes: 'Build primary keys, unique constraints and indexes',
  'foreign-keys': 'Add foreign keys',
  sequences: 'Set sequences',
  members: 'Copy members',
  verify: 'Check that nothing refers to the source',
};

/**
 * Progress of site:clone on stderr: listr2 with one line per table on a terminal, plain lines
 * otherwise (CI logs, pipes), so stdout keeps only the result.
 */
export function createCloneProgress(): CloneProgress {
  const interactive = Boolean(process.stdout.isTTY && process.stderr.isTTY && !process.env.CI);
  return interactive ? new ListrCloneProgress() : new PlainCloneProgress();
}

class PlainCloneProgress implements CloneProgress {
  onProgress(event: CloneProgressEvent): void {
    if (event.type === 'phase-done' && event.phase !== 'rows') this.line(`${PHASE_TITLES[event.phase].toLowerCase()}: ${event.detail}`);
    if (event.type === 'table-done') this.line(`copied ${event.table}: ${countOf(event.rows, 'row')}`);
  }

  async finish(): Promise<void> {}

  private line(text: string): void {
    process.stderr.write(`${err.dim('clone:')} ${text}\n`);
  }
}

interface Step {
  title: string;
  settle: { resolve: (detail: string) => void; reject: (error: unknown) => void };
  done: Promise<string>;
}

/**
 * listr2 wants its tasks up front, the clone announces them as it goes: each step is a task
 * waiting for the library's event that completes it.
 */
class ListrCloneProgress implements CloneProgress {
  private readonly steps = new Map<string, Step>();
  private running: Promise<void> = Promise.resolve();

  onProgress(event: CloneProgressEvent): void {
    switch (event.type) {
      case 'plan':
        this.start([
          ['structure', PHASE_TITLES.structure],
          ...event.copying.map((table): [string, string] => [`table:${table}`, `Copy ${table}`]),
          ['indexes', PHASE_TITLES.indexes],
          ['foreign-keys', PHASE_TITLES['foreign-keys']],
          ['sequences', PHASE_TITLES.sequences],
          ...(event.withMembers ? [['members', PHASE_TITLES.members] as [string, string]] : []),
          ['verify', PHASE_TITLES.verify],
        ]);
        break;
      case 'phase-done':
        this.steps.get(event.phase)?.settle.resolve(event.detail);
        break;
      case 'table-done':
        this.steps.get(`table:${event.table}`)?.settle.resolve(countOf(event.rows, 'row'));
        break;
      default:
        break;
    }
  }

  async finish(error?: unknown): Promise<void> {
    const failure = error ?? new Error('the clone stopped early');
    for (const step of this.steps.values()) step.settle.reject(failure);
    await this.running;
  }

  private start(steps: [string, string][]): void {
    for (const [key, title] of steps) {
      let settle!: Step['settle'];
      const done = new Promise<string>((resolve, reject) => { settle = { resolve, reject }; });
      // A step rejected after the list stopped must not surface as an unhandled rejection.
      done.catch(() => {});
      this.steps.set(key, { title, settle, done });
    }
    // listr2 is loaded only for a terminal: piped and --json clones skip its start-up cost.
    this.running = import('listr2').then(({ Listr, ListrLogger, ProcessOutput }) => new Listr(
      [...this.steps.values()].map((step) => ({
        title: step.title,
        task: async (_: unknown, task: { title: string }) => {
          task.title = `${step.title}: ${await step.done}`;
        },
      })),
      {
        exitOnError: true,
        rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }) },
      },
    ).run()).then(
      () => {},
      () => {},
    );
  }
}
