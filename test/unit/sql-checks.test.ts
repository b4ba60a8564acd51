import { describe, expect, it } from 'vitest';
import { checkFailure, sqlChecks } from '../../src/lib/migrations/sql-checks.js';

describe('sqlChecks', () => {
  const checks = [
    { failsWhen: 'a', code: 'IX001', message: 'first failed' },
    { failsWhen: 'b', code: 'IX002', message: 'second failed' },
  ];

  it('is one expression whose branches fail through a cast the planner cannot fold', () => {
    expect(sqlChecks(checks)).toBe("case when a then ('indigo-check:IX001:' || pg_backend_pid())::int\n  when b then ('indigo-check:IX002:' || pg_backend_pid())::int end");
    expect(sqlChecks([])).toBe('null');
    expect(() => sqlChecks([{ failsWhen: 'x', code: "'; drop", message: '' }])).toThrow(TypeError);
  });

  it('recognises only the errors of its own checks', () => {
    const cast = (input: string) => Object.assign(new Error(`invalid input syntax for type integer: "${input}"`), { code: '22P02' });
    expect(checkFailure(cast('indigo-check:IX002:4242'), checks)).toMatchObject({ code: 'IX002', message: 'second failed' });
    expect(checkFailure(cast('indigo-check:IX003:4242'), checks)).toBeUndefined();
    expect(checkFailure(cast('abc'), checks)).toBeUndefined();
    expect(checkFailure(Object.assign(new Error('"indigo-check:IX001:1"'), { code: '42P01' }), checks)).toBeUndefined();
    expect(checkFailure(undefined, checks)).toBeUndefined();
  });
});
