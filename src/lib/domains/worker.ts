/**
 * The long-running form of `domain:verify --all`: one verification pass, a pause, the next pass.
 * Any number of workers (and cron runs) may run against one network; claims keep them from
 * checking one domain twice at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { IndigoContext } from '../context.js';
import { authorize } from '../policy.js';
import { checkMilliseconds } from '../duration.js';
import { runVerificationPass, verificationSettings, type DomainTransition, type VerifyAllOptions, type VerifyAllResult } from './verify.js';

export const DEFAULT_WORKER_INTERVAL_MS = 60_000;
/** The worker re-checks a verified domain at most this often; pending ones every pass. */
export const DEFAULT_WORKER_RECHECK_MS = 3_600_000;

export interface DnsVerificationWorkerOptions extends Omit<VerifyAllOptions, 'signal'> {
  /** Pause between the end of one pass and the start of the next. */
  intervalMs?: number;
  /** Aborting it stops the worker after the checks in flight (SIGTERM/SIGINT handlers abort it). */
  signal?: AbortSignal;
  onPass?: (result: VerifyAllResult) => void;
  /** A pass that failed (the database went away …); the worker carries on with the next pass. */
  onError?: (error: unknown) => void;
}

export interface DnsVerificationWorkerSummary {
  passes: number;
  failedPasses: number;
  checked: number;
  incomplete: number;
  transitions: Record<DomainTransition, number>;
}

export interface DnsVerificationWorker {
  /** Settles when the worker has stopped: after a stop, with the totals of every pass. */
  readonly done: Promise<DnsVerificationWorkerSummary>;
  /** Stops claiming domains, lets the checks in flight finish, and resolves with `done`. */
  stop(): Promise<DnsVerificationWorkerSummary>;
}

/**
 * Starts the verification loop. Options are validated (and the actor authorised) before it
 * starts: a bad option throws here, not later in `done`.
 */
export function startDnsVerificationWorker(ctx: IndigoContext, options: DnsVerificationWorkerOptions = {}): DnsVerificationWorker {
  authorize(ctx.actor, 'domain.manage');
  const intervalMs = checkMilliseconds(options.intervalMs ?? DEFAULT_WORKER_INTERVAL_MS, 'the worker interval');
  const settings = verificationSettings({ ...options, recheckAfterMs: options.recheckAfterMs ?? DEFAULT_WORKER_RECHECK_MS });
  const controller = new AbortController();
  const stopOnSignal = () => controller.abort();
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener('abort', stopOnSignal, { once: true });

  const summary: DnsVerificationWorkerSummary = { passes: 0, failedPasses: 0, checked: 0, incomplete: 0, transitions: { verified: 0, failed: 0, expired: 0 } };
  const loop = async (): Promise<DnsVerificationWorkerSummary> => {
    try {
      while (!controller.signal.aborted) {
        try {
          const result = await runVerificationPass(ctx, settings, { signal: controller.signal, onResult: options.onResult });
          summary.passes += 1;
          summary.checked += result.checked;
          summary.incomplete += result.incomplete;
          for (const [transition, count] of Object.entries(result.transitions)) summary.transitions[transition as DomainTransition] += count;
          options.onPass?.(result);
        } catch (error) {
          summary.failedPasses += 1;
          options.onError?.(error);
        }
        await sleep(intervalMs, undefined, { signal: controller.signal }).catch(() => {});
      }
      return summary;
    } finally {
      options.signal?.removeEventListener('abort', stopOnSignal);
    }
  };
  const done = loop();
  return {
    done,
    stop() {
      controller.abort();
      return done;
    },
  };
}
