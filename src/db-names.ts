/*
 * Naming rules for PostgreSQL roles, databases and schemas: checked at synth time by the construct and
 * again at run time by the setup-db-users handler, before any SQL runs. Plain code with no imports, so the
 * handler bundle can include it.
 */

const NAME_PATTERN = /^[a-z_][a-z0-9_]*$/;
const MAX_NAME_BYTES = 63;

/** Role names may not start with these: PostgreSQL's and RDS's own roles. */
export const RESERVED_ROLE_PREFIXES = ['pg_', 'rds'];
/** Names PostgreSQL reserves or treats specially in role position, and the usual bootstrap superuser. */
export const RESERVED_ROLE_NAMES = new Set([
  'postgres', 'public', 'none', 'all', 'current_user', 'session_user', 'current_role', 'system_user', 'user',
]);
const RESERVED_SCHEMAS = new Set(['information_schema']);
const RESERVED_DATABASES = new Set(['template0', 'template1', 'rdsadmin']);

/** The rule, in words, for messages. */
export const NAME_RULE = 'lower-case letters, digits and _, starting with a letter or _, at most 63 bytes';

function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes`;
  if (!NAME_PATTERN.test(name)) return 'contains characters other than lower-case letters, digits and _, or starts with a digit';
  return undefined;
}

/** Why `name` is not an allowed role name, or undefined when it is. */
export function roleNameProblem(name: unknown): string | undefined {
  return nameProblem(name)
    ?? (RESERVED_ROLE_PREFIXES.some((p) => (name as string).startsWith(p)) ? `starts with a reserved prefix (${RESERVED_ROLE_PREFIXES.join(', ')})` : undefined)
    ?? (RESERVED_ROLE_NAMES.has(name as string) ? 'is a reserved role name' : undefined);
}

/** Why `name` is not an allowed database or schema name, or undefined when it is. */
export function objectNameProblem(kind: 'database' | 'schema', name: unknown): string | undefined {
  return nameProblem(name)
    ?? (kind === 'schema' && ((name as string).startsWith('pg_') || RESERVED_SCHEMAS.has(name as string)) ? 'is a system schema' : undefined)
    ?? (kind === 'database' && RESERVED_DATABASES.has(name as string) ? 'is a template or RDS system database' : undefined);
}
