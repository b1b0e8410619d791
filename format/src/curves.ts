/**
 * Public key point validation (docs/bundle-format.md section 5.1): a signer
 * key pinned in a trust root must be a point of its curve, checked when the
 * root is read, not only when a signature by that key is verified (a key
 * that never signs would otherwise be pinned unchecked). Exact arithmetic
 * with BigInt: no dependency, and the rules are the curves' own definitions.
 */

const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

const ED_P = 2n ** 255n - 19n;
const ED_D = mod(-121665n * inverse(121666n, ED_P), ED_P);

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function pow(base: bigint, exp: bigint, m: bigint): bigint {
  let r = 1n;
  let b = mod(base, m);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

function inverse(a: bigint, m: bigint): bigint {
  return pow(a, m - 2n, m);
}

function bigFromBytesBE(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);
}

/**
 * Why a P-256 public point (x, y, 32 bytes each, big-endian) is not a valid
 * key, or undefined when it is: both coordinates below the field prime (one
 * spelling per point, so one thumbprint per key) and y^2 = x^3 - 3x + b.
 * (P-256 has cofactor 1: every point on the curve but infinity, which has no
 * affine coordinates, generates the whole group.)
 */
export function p256PointProblem(x: Uint8Array, y: Uint8Array): string | undefined {
  if (x.length !== 32 || y.length !== 32) return 'its coordinates are not 32 bytes each';
  const X = bigFromBytesBE(x);
  const Y = bigFromBytesBE(y);
  if (X >= P256_P || Y >= P256_P) return 'a coordinate is not below the field prime';
  const lhs = (Y * Y) % P256_P;
  const rhs = mod(X * X * X - 3n * X + P256_B, P256_P);
  return lhs === rhs ? undefined : 'it is not a point on the P-256 curve';
}

type EdPoint = Readonly<{ x: bigint; y: bigint }>;

function edAdd(a: EdPoint, b: EdPoint): EdPoint {
  // Twisted Edwards, a = -1: complete for this curve (d is not a square), no special cases.
  const t = (ED_D * a.x * b.x * a.y * b.y) % ED_P;
  const x = mod((a.x * b.y + a.y * b.x) * inverse(mod(1n + t, ED_P), ED_P), ED_P);
  const y = mod((a.y * b.y + a.x * b.x) * inverse(mod(1n - t, ED_P), ED_P), ED_P);
  return { x, y };
}

/**
 * Why an Ed25519 public key (32 bytes, RFC 8032 section 5.1.3) is not a valid
 * signer key, or undefined when it is: the encoding is canonical (y below the
 * prime, no "negative zero" x), it decodes to a curve point, and the point is
 * not of small order (one of the eight points whose multiples are few: with
 * such a key, one signature verifies for many messages).
 */
export function ed25519PointProblem(a: Uint8Array): string | undefined {
  if (a.length !== 32) return 'it is not 32 bytes';
  const le = Buffer.from(a);
  const sign = le[31]! >> 7;
  le[31] = le[31]! & 0x7f;
  const y = bigFromBytesBE(Buffer.from(le).reverse());
  if (y >= ED_P) return 'its encoding is not canonical (y is not below the field prime)';
  const y2 = (y * y) % ED_P;
  const u = mod(y2 - 1n, ED_P);
  const v = mod(ED_D * y2 + 1n, ED_P);
  // x = u v^3 (u v^7)^((p-5)/8), then fixed up by sqrt(-1) if needed (RFC 8032 5.1.3 step 3).
  const v3 = (v * v * v) % ED_P;
  let x = (u * v3 * pow((u * v3 * v3 * v) % ED_P, (ED_P - 5n) / 8n, ED_P)) % ED_P;
  const vx2 = (v * x * x) % ED_P;
  if (vx2 !== u) {
    if (vx2 === mod(-u, ED_P)) x = (x * pow(2n, (ED_P - 1n) / 4n, ED_P)) % ED_P;
    else return 'it is not a point on the Ed25519 curve';
  }
  if (x === 0n && sign === 1) return 'its encoding is not canonical (x is zero with the sign bit set)';
  if ((x & 1n) !== BigInt(sign)) x = ED_P - x;
  let p: EdPoint = { x, y };
  for (let i = 0; i < 3; i++) p = edAdd(p, p);
  if (p.x === 0n && p.y === 1n) return 'it is a point of small order';
  return undefined;
}
