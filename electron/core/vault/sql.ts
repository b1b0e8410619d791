/**
 * SQL built from fragments, never from strings. A fragment is made only by
 * the `sql` template tag (and the few helpers below, which use it): every
 * value written into the template becomes a `?` with the value bound beside
 * it, never text of the statement; a fragment written into the template is
 * spliced in with its own bound values, in order. So a WHERE clause, a column
 * list or an IN list travels as a fragment, and a plain string put where a
 * fragment is expected does not typecheck (`Sql` has a private member, and
 * its constructor needs a token only this module has).
 *
 *   const byService = sql`k.service = ${service}`;
 *   all(db, sql`SELECT * FROM keys k ${where([byService])} ORDER BY k.name`);
 *   // text: SELECT * FROM keys k WHERE k.service = ? ORDER BY k.name, params: [service]
 *
 * The number of distinct statement texts stays bounded: an IN list is one
 * JSON array bound to one `?` (`inList`), whatever its length, and optional
 * conditions come from a fixed set of templates. The statement cache
 * (vault/db.ts) is bounded as well.
 *
 * Modelled on Signal Desktop's `sql` tag (ts/sql/util.ts); written anew.
 */

/** A value SQLite binds: TEXT, INTEGER or REAL, BLOB, NULL. */
export type SqlValue = string | number | bigint | Uint8Array | null;

const TOKEN: unique symbol = Symbol('keyhold sql fragment');

/** A piece of SQL: its text, with a `?` for each bound value, and those values in order. */
export class Sql {
  readonly text: string;
  readonly params: readonly SqlValue[];
  /** Private (so a look-alike object is not a fragment to the type checker), and made with the module's token. */
  private readonly made: typeof TOKEN;

  /** Only this module can make one (it alone has the token): use the `sql` tag. */
  constructor(token: typeof TOKEN, text: string, params: readonly SqlValue[]) {
    if (token !== TOKEN) throw new TypeError('sql: fragments are made with the sql`...` tag');
    this.text = text;
    this.params = params;
    this.made = token;
  }

  /** Whether a value is a fragment made here. */
  static is(v: unknown): v is Sql {
    return v instanceof Sql && v.made === TOKEN;
  }

  toString(): string {
    return this.text;
  }
}

function checkValue(v: unknown, at: number): SqlValue {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || v instanceof Uint8Array) return v;
  // Typecheck already refuses these; a caller in plain JavaScript (or an `as`) gets a clear error, not a bound "undefined".
  throw new TypeError(`sql: value ${at + 1} of the template is ${v === undefined ? 'undefined' : typeof v}, not a value SQLite binds`);
}

/**
 * The text of a template with only values in it, per call site: the same
 * string object every time, so the statement cache finds it without
 * rehashing a new string on each call of a hot path.
 */
const plainText = new WeakMap<TemplateStringsArray, string>();

/**
 * The tag: sql`SELECT ... WHERE id = ${id}`. A value becomes `?` and is
 * bound; a fragment (Sql) is spliced in with its bound values.
 */
export function sql(strings: TemplateStringsArray, ...values: (Sql | SqlValue)[]): Sql {
  if (!Array.isArray(strings)) throw new TypeError('sql: a tag for template literals, sql`...`, not a function of a string');
  let nested = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'string' || typeof v === 'number') continue;
    if (Sql.is(v)) {
      nested = true;
      break;
    }
    checkValue(v, i);
  }
  if (!nested) {
    let text = plainText.get(strings);
    if (text === undefined) {
      text = strings.join('?');
      plainText.set(strings, text);
    }
    // The rest array is this call's own: it is the parameter list as it stands.
    return new Sql(TOKEN, text, values as SqlValue[]);
  }
  let text = strings[0] as string;
  const params: SqlValue[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Sql.is(v)) {
      text += v.text;
      for (const p of v.params) params.push(p);
    } else {
      text += '?';
      params.push(checkValue(v, i));
    }
    text += strings[i + 1] as string;
  }
  return new Sql(TOKEN, text, params);
}

/** q itself, checked to be a fragment: a string passed where one is expected (past the type checker) throws. */
export function fragment(q: Sql): Sql {
  if (!Sql.is(q)) throw new TypeError(`sql: expected a fragment made with sql\`...\`, got ${typeof q}`);
  return q;
}

/** The empty fragment. */
export const EMPTY: Sql = sql``;

/** Fragments joined with a separator (a fragment too: `, ` by default). */
export function join(parts: readonly Sql[], separator: Sql = sql`, `): Sql {
  for (const p of [...parts, separator]) fragment(p);
  let text = '';
  const params: SqlValue[] = [];
  parts.forEach((p, i) => {
    if (i > 0) {
      text += separator.text;
      params.push(...separator.params);
    }
    text += p.text;
    params.push(...p.params);
  });
  return new Sql(TOKEN, text, params);
}

/** `WHERE a AND b ...` over the conditions given, or nothing when there are none. */
export function where(conditions: readonly Sql[]): Sql {
  return conditions.length === 0 ? EMPTY : sql`WHERE ${join(conditions, sql` AND `)}`;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * An identifier (a table, column or alias name, or `alias.column`), quoted.
 * Only plain names are accepted (letters, digits, underscore): anything
 * else is a programming error and throws, so a name can never carry SQL.
 */
export function ident(name: string): Sql {
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) {
    throw new TypeError(`sql: ${JSON.stringify(name)} is not a plain identifier (letters, digits and _, optionally alias.name)`);
  }
  return new Sql(TOKEN, parts.map((p) => `"${p}"`).join('.'), []);
}

/**
 * The right-hand side of `x IN ...` for a list of values: one JSON array
 * bound to one `?` and unpacked by json_each, so the statement's text is the
 * same for 1 value or 100,000 (and no limit on bound variables applies).
 * Strings and safe integers only: they come back from json_each as TEXT and
 * INTEGER, exactly what they would be bound as.
 */
export function inList(values: readonly (string | number)[]): Sql {
  for (const v of values) {
    if (typeof v !== 'string' && !Number.isSafeInteger(v)) {
      throw new TypeError(`sql: inList takes strings and safe integers, not ${typeof v === 'number' ? String(v) : typeof v}`);
    }
  }
  return sql`(SELECT value FROM json_each(${JSON.stringify(values)}))`;
}

/** One item of a SELECT list read in raw mode: its name, its expression, and how many result columns it gives. */
export type Selected<N extends string = string> = Readonly<{ name: N; expr: Sql; width: number }>;

/** The column name of `alias.column` (or of `column`). */
export type ColumnName<Q extends string> = Q extends `${string}.${infer C}` ? C : Q;

/** A column of a table (`alias.column`), selected as it is, read by its own name. */
export function column<const Q extends string>(qualified: Q): Selected<ColumnName<Q>> {
  return { name: qualified.slice(qualified.lastIndexOf('.') + 1) as ColumnName<Q>, expr: ident(qualified), width: 1 };
}

/** A computed item of a SELECT list, `width` result columns wide, read by `name`. */
export function computed<const N extends string>(name: N, expr: Sql, width = 1): Selected<N> {
  return { name, expr, width };
}

export type ColumnIndex<N extends string> = { readonly [K in N]: number };

/**
 * A SELECT list and where each item lands in a raw row: `at.name` is the
 * index of the item's first result column. A raw row is then read by name,
 * `r[at.service]`, and a misspelt name does not typecheck. `start` places
 * the list after others in the same SELECT.
 */
export function selectList<const T extends readonly Selected[]>(items: T, start = 0):
  Readonly<{ list: Sql; at: ColumnIndex<T[number]['name']>; end: number }> {
  const at: Record<string, number> = {};
  let i = start;
  for (const it of items) {
    if (Object.hasOwn(at, it.name)) throw new TypeError(`sql: ${it.name} is selected twice`);
    at[it.name] = i;
    i += it.width;
  }
  return { list: join(items.map((it) => it.expr)), at: Object.freeze(at) as ColumnIndex<T[number]['name']>, end: i };
}
