/**
 * Splitting a migration into statements, for the migrations that must run outside a
 * transaction: PostgreSQL refuses `CREATE INDEX CONCURRENTLY` inside a multi-statement query
 * string (it is an implicit transaction), so each statement is sent on its own.
 */

/**
 * The statements of a SQL text, in order, without their terminating semicolons. Semicolons
 * inside quoted strings, quoted identifiers, dollar-quoted bodies and comments do not split.
 * Statements that hold nothing but comments and whitespace are dropped.
 */
export function splitSqlStatements(text: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const statement = text.slice(start, end).trim();
    if (stripComments(statement).trim()) statements.push(statement);
  };
  while (i < text.length) {
    const ch = text[i];
    const next = text[i + 1];
    if (ch === "'" || ch === '"') {
      i = skipQuoted(text, i, ch);
    } else if (ch === '-' && next === '-') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol + 1;
    } else if (ch === '/' && next === '*') {
      i = skipBlockComment(text, i);
    } else if (ch === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i));
      // `$1` (a parameter) and `a$b` (part of an identifier) are not dollar quotes.
      if (tag && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? text.length : close + tag[0].length;
      } else {
        i += 1;
      }
    } else if (ch === ';') {
      push(i);
      start = i + 1;
      i += 1;
    } else {
      i += 1;
    }
  }
  push(text.length);
  return statements;
}

function skipQuoted(text: string, open: number, quote: string): number {
  let i = open + 1;
  while (i < text.length) {
    if (text[i] === quote) {
      // A doubled quote is an escaped quote inside the string or identifier.
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return text.length;
}

function skipBlockComment(text: string, open: number): number {
  // PostgreSQL block comments nest.
  let depth = 0;
  let i = open;
  while (i < text.length) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return text.length;
}

function stripComments(statement: string): string {
  return statement.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

const CONCURRENT_INDEX_STATEMENT = /^((?:\s|--[^\n]*\n)*(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\s+(?:\([^)]*\)\s*)?(?:INDEX|TABLE|SCHEMA))\s+)CONCURRENTLY\s+/i;

/**
 * The statement without `CONCURRENTLY`, for a site schema created in this very transaction: its
 * tables are new, empty and invisible to every other session, so a plain index build locks
 * nobody out, and it can then run inside the site's creation transaction.
 */
export function withoutConcurrently(statement: string): string {
  return statement.replace(CONCURRENT_INDEX_STATEMENT, '$1');
}
