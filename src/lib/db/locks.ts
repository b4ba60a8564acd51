/**
 * Advisory lock keys. The two-int form keeps indigo-sites' locks in their own class so they
 * never collide with a host application's single-bigint advisory locks.
 */
export const LOCK_CLASS = 0x1d150; // "indigo"
export const LOCK_CLASS_SITE = LOCK_CLASS + 1;

export const LockKey = {
  sharedMigrations: 1,
  migrateSites: 2,
} as const;
