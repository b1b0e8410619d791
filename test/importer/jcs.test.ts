import { describe, expect, it } from 'vitest';
import { canonicalize, parseCanonical, b64urlDecodeStrict } from 'keyhold-format';

const bits = (hex: string): number => Buffer.from(hex, 'hex').readDoubleBE(0);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('RFC 8785 canonical JSON', () => {
  it('serializes numbers as ECMAScript does (RFC 8785 appendix B)', () => {
    const cases: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['41b3de4355555555', '333333333.3333333'],
    ];
    for (const [hex, text] of cases) expect(canonicalize(bits(hex))).toBe(text);
  });

  it('refuses non-finite numbers, lone surrogates and non-JSON values', () => {
    for (const v of [NaN, Infinity, -Infinity, { a: NaN }]) expect(() => canonicalize(v)).toThrow(/non-finite/);
    for (const s of ['\ud800', 'a\udc00', '\udbff\udbff', { '\ud83d': 1 }]) expect(() => canonicalize(s)).toThrow(/lone surrogate/);
    expect(canonicalize('\ud83d\ude00')).toBe('"\ud83d\ude00"');
    expect(() => canonicalize({ a: undefined })).toThrow(/undefined/);
    expect(() => canonicalize(new Date(0))).toThrow(/plain objects/);
    expect(() => canonicalize(1n)).toThrow(/bigint/);
  });

  it('sorts members by UTF-16 code units (RFC 8785 section 3.2.3 example)', () => {
    const o = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    const out = canonicalize(o);
    const order = [...out.matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
    expect(order).toEqual(['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
    expect(out.startsWith('{"\\r":"Carriage Return","1":"One"')).toBe(true);
  });

  it('escapes strings as JCS does', () => {
    expect(canonicalize('\u0000\b\f\n\r\t"\\/\u000f\u001f\u007f\u2028é')).toBe('"\\u0000\\b\\f\\n\\r\\t\\"\\\\/\\u000f\\u001f\u007f\u2028é"');
    expect(canonicalize({ b: [1, true, null, 'x'], a: { d: 2, c: 1 } })).toBe('{"a":{"c":1,"d":2},"b":[1,true,null,"x"]}');
  });

  it('parseCanonical accepts only the one canonical spelling', () => {
    expect(parseCanonical(enc('{"a":1,"b":[2]}'))?.value).toEqual({ a: 1, b: [2] });
    for (const s of ['{"b":1,"a":2}', '{"a":1,"a":1}', '{"a": 1}', ' {"a":1}', '{"a":1.0}', '{"a":"\\u0041"}', '\ufeff{"a":1}', '{"a":1e0}', '"\\ud800"', '{"a":1']) {
      expect(parseCanonical(enc(s)), s).toBeUndefined();
    }
    expect(parseCanonical(new Uint8Array([0x22, 0xc3, 0x28, 0x22]))).toBeUndefined(); // invalid UTF-8
  });

  it('decodes base64url strictly: no padding, no other alphabet, no non-zero trailing bits', () => {
    expect(b64urlDecodeStrict('AQID')?.toString('hex')).toBe('010203');
    expect(b64urlDecodeStrict('AQI')?.toString('hex')).toBe('0102');
    for (const s of ['AQI=', 'AQ+D', 'AQ/D', 'AQJ', 'A', 'AQ ID', 'AQID\n']) expect(b64urlDecodeStrict(s), s).toBeUndefined();
  });
});
