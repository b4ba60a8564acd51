/**
 * Runs `fn` while set_config is in flight, then reports set_config's own failure in preference
 * to fn's (fn's queries fail with "current transaction is aborted", which hides the cause).
 * Either way the error propagates, so the driver rolls back and the search_path goes with it.
 */
export async function runWithSearchPath(applied: Promise<void>, fn: () => unknown): Promise<unknown> {
  // Observed here so that an early throw in fn cannot leave the rejection unhandled.
  applied.catch(() => {});
  try {
    const pending = fn();
    const result = Array.isArray(pending) ? await Promise.all(pending) : await pending;
    await applied;
    return result;
  } catch (error) {
    await applied;
    throw error;
  }
}
