/**
 * The SQL fragment helper (electron/core/vault/sql.ts), on a real in-memory
 * SQLite: fragments compose with their values in order; a value is always
 * bound, never part of the text (a string made to look like SQL stays a
 * string); identifiers are plain names or an error; an IN list is the same
 * statement text at any length; a plain string where a fragment is expected
 * does not typecheck (the @ts-expect-error lines fail `npm run typecheck:node`
 * if they ever stop being errors).
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { all, get, run, stmt } from '../../electron/core/vault/db.js';
import { column, computed, EMPTY, ident, inList, join, selectList, Sql, sql, where } from '../../electron/core/vault/sql.js';

function memoryDb(): Database.Database {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB)');
  return db;
}

const HOSTILE = ["'; DROP TABLE t; --", '" OR 1=1 --', '?', '?1', ':name', '$x', '@y', "Robert'); DELETE FROM t;--", 'a\u0000b'];

describe('sql fragments', () => {
  it('turn each value into a ? and keep the values in order', () => {
    const q = sql`SELECT * FROM t WHERE id = ${7} AND name = ${'x'} AND data IS ${null}`;
    expect(q.text).toBe('SELECT * FROM t WHERE id = ? AND name = ? AND data IS ?');
    expect(q.params).toEqual([7, 'x', null]);
  });

  it('compose: a fragment is spliced in with its own values, in the order they appear', () => {
    const a = sql`name = ${'a'}`;
    const b = sql`id > ${1} AND id < ${9}`;
    const q = sql`SELECT id FROM t ${where([a, b])} ORDER BY id LIMIT ${5}`;
    expect(q.text).toBe('SELECT id FROM t WHERE name = ? AND id > ? AND id < ? ORDER BY id LIMIT ?');
    expect(q.params).toEqual(['a', 1, 9, 5]);
    expect(join([a, b, sql`x`]).text).toBe('name = ?, id > ? AND id < ?, x');
    expect(join([a, b], sql` OR `).params).toEqual(['a', 1, 9]);
    expect(where([]).text).toBe('');
    expect(sql`SELECT 1 ${EMPTY}`.params).toEqual([]);
    // Nested twice, values still in reading order.
    const deep = sql`(${sql`${1}, ${sql`${2}, ${3}`}`}, ${4})`;
    expect(deep.text).toBe('(?, ?, ?, ?)');
    expect(deep.params).toEqual([1, 2, 3, 4]);
  });

  it('never inline a value: SQL-looking strings stay strings, on a real SQLite', () => {
    const db = memoryDb();
    for (const [i, s] of HOSTILE.entries()) {
      const q = sql`INSERT INTO t (id, name, data) VALUES (${i + 1}, ${s}, ${Buffer.from(s)})`;
      expect(q.text).toBe('INSERT INTO t (id, name, data) VALUES (?, ?, ?)');
      run(db, q);
    }
    for (const [i, s] of HOSTILE.entries()) {
      const row = get<{ id: number; data: Buffer }>(db, sql`SELECT id, data FROM t WHERE name = ${s}`);
      expect(row?.id).toBe(i + 1);
      expect(row?.data.equals(Buffer.from(s))).toBe(true);
    }
    expect(all(db, sql`SELECT * FROM t`)).toHaveLength(HOSTILE.length);
    db.close();
  });

  it('give one statement text per call site, whatever the values', () => {
    const at = (v: string | number) => sql`SELECT ${v}`;
    expect(at(1).text).toBe(at('x').text);
    expect(at(1).text).toBe('SELECT ?');
  });

  it('refuse a value SQLite cannot bind even when types are bypassed', () => {
    const bad: unknown[] = [undefined, true, {}, [1], () => 1, Symbol('s')];
    for (const v of bad) expect(() => sql`SELECT ${v as string}`).toThrow(TypeError);
  });

  it('accept only identifiers that are plain names, quoted', () => {
    expect(ident('name').text).toBe('"name"');
    expect(ident('k.service').text).toBe('"k"."service"');
    expect(ident('_x9').params).toEqual([]);
    for (const bad of ['', 'a b', 'a;b', 'a"b', "a'b", 'a.b.c', '.a', 'a.', '1a', 'name; DROP TABLE t', 'a--', 'a/*', 'ä', 'a\u0000']) {
      expect(() => ident(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
    const db = memoryDb();
    run(db, sql`INSERT INTO t (id, name) VALUES (${1}, ${'n'})`);
    expect(get<{ name: string }>(db, sql`SELECT ${ident('t.name')} FROM t`)?.name).toBe('n');
    db.close();
  });

  it('make an IN list one bound JSON array: the same text for 1 or 1000 values, the right rows', () => {
    const db = memoryDb();
    const ins = stmt(db, sql`INSERT INTO t (id, name) VALUES (?, ?)`);
    for (let i = 1; i <= 1000; i++) ins.run(i, `n${i}`);
    const texts = new Set<string>();
    for (const n of [0, 1, 2, 10, 999, 1000]) {
      const ids = Array.from({ length: n }, (_, i) => i + 1);
      const names = ids.map((i) => `n${i}`);
      const byId = sql`SELECT count(*) AS c FROM t WHERE id IN ${inList(ids)}`;
      const byName = sql`SELECT count(*) AS c FROM t WHERE name IN ${inList(names)}`;
      texts.add(byId.text);
      expect(byId.params).toHaveLength(1);
      expect(get<{ c: number }>(db, byId)?.c).toBe(n);
      expect(get<{ c: number }>(db, byName)?.c).toBe(n);
    }
    expect([...texts]).toEqual(['SELECT count(*) AS c FROM t WHERE id IN (SELECT value FROM json_each(?))']);
    // 40,000 values: past SQLite's limit on bound variables, still one.
    const many = Array.from({ length: 40_000 }, (_, i) => i);
    expect(get<{ c: number }>(db, sql`SELECT count(*) AS c FROM t WHERE id IN ${inList(many)}`)?.c).toBe(1000);
    // Hostile strings match only themselves.
    expect(get<{ c: number }>(db, sql`SELECT count(*) AS c FROM t WHERE name IN ${inList(HOSTILE)}`)?.c).toBe(0);
    for (const bad of [1.5, NaN, Infinity, 2 ** 60]) expect(() => inList([bad])).toThrow(TypeError);
    db.close();
  });

  it('index raw rows by name through the SELECT list, wide items taking their width', () => {
    const s = selectList([column('t.id'), computed('pair', sql`1, 2`, 2), column('name')], 3);
    expect(s.list.text).toBe('"t"."id", 1, 2, "name"');
    expect(s.at).toEqual({ id: 3, pair: 4, name: 6 });
    expect(s.end).toBe(7);
    expect(() => selectList([column('a.id'), column('b.id')])).toThrow(TypeError);
    const db = memoryDb();
    run(db, sql`INSERT INTO t (id, name) VALUES (${5}, ${'five'})`);
    const plain = selectList([column('name'), column('id')]);
    const row = stmt(db, sql`SELECT ${plain.list} FROM t`).raw(true).get() as unknown[];
    expect([row[plain.at.id], row[plain.at.name]]).toEqual([5, 'five']);
    // @ts-expect-error a name the SELECT list does not have is a type error
    expect(plain.at.nope).toBeUndefined();
    db.close();
  });

  it('cannot be made from a plain string: the type checker refuses it, and so does the code', () => {
    const db = memoryDb();
    const name: string = HOSTILE[0] as string;
    const built = `SELECT * FROM t WHERE name = '${name}'`;
    // @ts-expect-error a string is not a fragment
    expect(() => all(db, built)).toThrow(TypeError);
    // @ts-expect-error a string is not a condition
    expect(() => where([built])).toThrow(TypeError);
    // @ts-expect-error the tag takes a template, not a string
    expect(() => sql(built)).toThrow(TypeError);
    // @ts-expect-error a look-alike object is not a fragment (its private member is missing)
    const fake: Sql = { text: built, params: [] };
    expect(Sql.is(fake)).toBe(false);
    // @ts-expect-error only the module has the token its constructor needs
    expect(() => new Sql(Symbol('keyhold sql fragment'), built, [])).toThrow(TypeError);
    // What the type refuses: the built text carries a second statement (better-sqlite3 happens to refuse that one).
    // @ts-expect-error stmt takes a literal or a fragment, not a string built at run time
    expect(() => stmt(db, built)).toThrow(RangeError);
    // A literal is a constant, not built: accepted.
    expect(stmt(db, 'SELECT 1 AS one').get()).toEqual({ one: 1 });
    // A fragment with values is run, not cached as a template with its values lost.
    expect(() => stmt(db, sql`SELECT ${1}`)).toThrow(TypeError);
    db.close();
  });
});
