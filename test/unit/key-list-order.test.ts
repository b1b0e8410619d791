/**
 * The keys store's list order (renderer/src/stores/keys.ts): the ranges of a
 * large vault are each put in the list's own order (service, environment,
 * name) as they arrive and merged at the end, instead of ranking every key by
 * its text. Held here to the ranked order (sortedOrder with the default sort)
 * over random rows cut into random runs: the same rows in the same order.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The renderer's modules belong to the web project (tsconfig.web.json); loaded by path, described by what is used.
type Row = { id: string; name: string; service: string; environment: string; scopes: string[]; owner: string; state: string;
  currentVersion: number; createdAt: string; due: string; rotateAt: string | null };
type Sort = { column: string; dir: 'asc' | 'desc' };
const RENDERER = path.resolve(import.meta.dirname, '../../renderer/src');
const store = (await import(path.join(RENDERER, 'stores/keys.ts'))) as {
  byDefaultOrder: (a: Row, b: Row) => number;
  mergeInDefaultOrder: (runs: readonly (readonly Row[])[]) => Row[];
  sortedOrder: (all: readonly Row[], sort: Sort) => Int32Array;
  DEFAULT_SORT: Sort;
};

/** A small deterministic generator (xorshift32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

// Texts that sort differently by UTF-16 code units than by locale: case, prefixes, digits, non-ASCII, astral.
const PARTS = ['a', 'A', 'b', 'Z', 'z', '0', '9', '-', '_', 'é', 'E', 'ä', '𝒳', 'ß', 'key', 'key-1', 'key-10', 'key-2'];

function rows(random: () => number, n: number): Row[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const seen = new Set<string>();
  const out: Row[] = [];
  while (out.length < n) {
    const name = Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(PARTS)).join('');
    const service = pick(['payments', 'Payments', 'search', 'sëarch', 'mail']);
    const environment = pick(['production', 'staging', 'Staging']);
    const tag = `${service}\u0000${environment}\u0000${name}`;
    if (seen.has(tag)) continue; // (service, environment, name) is unique in a vault
    seen.add(tag);
    out.push({ id: `id${out.length}`, name, service, environment, scopes: [], owner: '', state: 'active', currentVersion: 1,
      createdAt: '', due: 'ok', rotateAt: null });
  }
  return out;
}

describe('the key list in its own order', () => {
  it('merges runs sorted with byDefaultOrder into exactly the ranked default order', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = rng(seed);
      const all = rows(random, 1 + Math.floor(random() * 400));
      const ranked = Array.from(store.sortedOrder(all, store.DEFAULT_SORT), (i) => all[i]!.id);
      // Cut into 1 to 6 runs of any length (some empty), each sorted as a range is when it arrives.
      const cuts = Array.from({ length: Math.floor(random() * 6) }, () => Math.floor(random() * (all.length + 1))).sort((a, b) => a - b);
      const runs: Row[][] = [];
      let from = 0;
      for (const c of [...cuts, all.length]) {
        runs.push(all.slice(from, c).sort(store.byDefaultOrder));
        from = c;
      }
      const merged = store.mergeInDefaultOrder(runs);
      expect(merged.map((r) => r.id), `seed ${seed}`).toEqual(ranked);
      // In that order, the ranked default order of the merged rows is the rows as they are.
      expect(Array.from(store.sortedOrder(merged, store.DEFAULT_SORT))).toEqual(merged.map((_, i) => i));
    }
    expect(store.mergeInDefaultOrder([])).toEqual([]);
  });
});
