/**
 * canonicalRow (electron/core/crypto/primitives.ts) written out the slow,
 * obvious way, as docs/vault-format.md section 1 defines it: the reference
 * the fast encoder is held to (test/unit/differential.test.ts,
 * test/integration/bulk-rows.test.ts).
 */
import { HexBytes } from '../../electron/core/crypto/primitives.js';

/** The bytes canonicalRow(table, fields) must give. */
export function referenceRow(table: string, fields: readonly unknown[]): Buffer {
  const item = (tag: number, bytes: Uint8Array): Buffer => {
    const h = Buffer.alloc(5);
    h[0] = tag;
    h.writeUInt32BE(bytes.length, 1);
    return Buffer.concat([h, bytes]);
  };
  const parts: Buffer[] = [Buffer.from('KHR1', 'latin1')];
  for (const v of [table, ...fields]) {
    if (v === null || v === undefined) parts.push(item(0, Buffer.alloc(0)));
    else if (v instanceof HexBytes) parts.push(item(1, Buffer.from(v.hex, 'hex')));
    else if (v instanceof Uint8Array) parts.push(item(1, v));
    else if (typeof v === 'string') parts.push(item(2, Buffer.from(v, 'utf8')));
    else if (typeof v === 'number') {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v);
      parts.push(item(3, b));
    } else parts.push(item(9, Buffer.from(`?${typeof v}`, 'latin1')));
  }
  return Buffer.concat(parts);
}
