/**
 * The PKCS#11 boundary: the subset of pkcs11js that Keyhold calls (so a test
 * can put a thin fault-injecting layer around the real module), the constants
 * pkcs11js lacks, and the mapping of CKR_* return values to Keyhold errors.
 *
 * Errors are matched on their numeric `code`, never on their text.
 */

import pkcs11js from 'pkcs11js';
import { KeyholdError } from '../../../shared/errors.js';

export type Handle = Buffer;

/** What Keyhold uses of a loaded PKCS#11 module. */
export type Pkcs11Driver = Pick<
  pkcs11js.PKCS11,
  | 'load'
  | 'close'
  | 'C_Initialize'
  | 'C_Finalize'
  | 'C_GetInfo'
  | 'C_GetSlotList'
  | 'C_GetSlotInfo'
  | 'C_GetTokenInfo'
  | 'C_GetMechanismList'
  | 'C_OpenSession'
  | 'C_CloseSession'
  | 'C_GetSessionInfo'
  | 'C_Login'
  | 'C_Logout'
  | 'C_FindObjectsInit'
  | 'C_FindObjects'
  | 'C_FindObjectsFinal'
  | 'C_GetAttributeValue'
  | 'C_GenerateKeyPair'
  | 'C_GenerateKeyPairAsync'
  | 'C_SignInit'
  | 'C_Sign'
  | 'C_DeriveKey'
  | 'C_DestroyObject'
  | 'C_CreateObject'
>;

export type DriverFactory = () => Pkcs11Driver;

export const defaultDriverFactory: DriverFactory = () => new pkcs11js.PKCS11();

// Mechanisms and key types of PKCS#11 3.0 that pkcs11js 2.x has no names for.
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

/** DER OIDs used as CKA_EC_PARAMS. */
export const EC_PARAMS = {
  p256: Buffer.from('06082a8648ce3d030107', 'hex'),
  ed25519: Buffer.from('06032b6570', 'hex'),
  /** Some tokens (and older SoftHSM) name Ed25519 by a printable string. */
  ed25519Printable: Buffer.from('130c656477617264733235353139', 'hex'),
} as const;

/** The mechanisms `token list` reports, by the name a custodian knows. */
export const NOTABLE_MECHANISMS: ReadonlyArray<readonly [string, number]> = [
  ['ECDSA', pkcs11js.CKM_ECDSA],
  ['ECDSA-SHA256', pkcs11js.CKM_ECDSA_SHA256],
  ['EC-KEYGEN', pkcs11js.CKM_EC_KEY_PAIR_GEN],
  ['ECDH', pkcs11js.CKM_ECDH1_DERIVE],
  ['EdDSA', CKM_EDDSA],
  ['Ed25519-KEYGEN', CKM_EC_EDWARDS_KEY_PAIR_GEN],
  ['RSA-PSS', pkcs11js.CKM_RSA_PKCS_PSS],
  ['RSA-OAEP', pkcs11js.CKM_RSA_PKCS_OAEP],
  ['AES-KEY-WRAP', pkcs11js.CKM_AES_KEY_WRAP],
  ['AES-KEY-WRAP-PAD', pkcs11js.CKM_AES_KEY_WRAP_PAD],
];

/** Return values meaning the token is gone or its session with it is. */
const REMOVED_CODES: ReadonlySet<number> = new Set([
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
]);

const CKR_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(pkcs11js)
    .filter((e): e is [string, number] => e[0].startsWith('CKR_') && typeof e[1] === 'number')
    .map(([k, v]) => [v, k]),
);

/** The CKR_* code of a PKCS#11 error, or null for anything else. */
export function ckrOf(e: unknown): number | null {
  return e instanceof pkcs11js.Pkcs11Error && typeof e.code === 'number' ? e.code : null;
}

export function ckrName(code: number): string {
  return CKR_NAMES.get(code) ?? `CKR_0x${code.toString(16).toUpperCase()}`;
}

export function isRemoval(code: number | null): boolean {
  return code !== null && REMOVED_CODES.has(code);
}

/** TOKEN_REMOVED: the token (or its session) went away during `what`. */
export function removedError(e: unknown, what: string, tokenName: string): KeyholdError {
  return new KeyholdError('TOKEN_REMOVED', `token: ${tokenName} was removed during ${what}`,
    'Insert the token again and repeat the command; nothing was changed.', { cause: e });
}

/**
 * A Keyhold error for a failed PKCS#11 call. The module's own message is not
 * passed on (it is native text, not vetted); the CKR name is.
 */
export function tokenError(e: unknown, what: string, tokenName: string): KeyholdError {
  if (e instanceof KeyholdError) return e;
  const code = ckrOf(e);
  if (isRemoval(code)) return removedError(e, what, tokenName);
  if (code === pkcs11js.CKR_MECHANISM_INVALID || code === pkcs11js.CKR_FUNCTION_NOT_SUPPORTED) {
    return new KeyholdError('TOKEN_UNSUPPORTED', `token: ${tokenName} does not support ${what} (${ckrName(code)})`,
      'See the mechanisms `keyhold token list` reports for this token.', { cause: e });
  }
  if (code === pkcs11js.CKR_PIN_LOCKED) {
    return new KeyholdError('TOKEN_PIN_LOCKED', `token: the user PIN of ${tokenName} is locked`,
      "Unblock it with the token's security officer PIN (PUK) using the vendor's tool.", { cause: e });
  }
  if (code !== null) {
    return new KeyholdError('TOKEN_ERROR', `token: ${what} failed on ${tokenName}: ${ckrName(code)}`, undefined, { cause: e });
  }
  return new KeyholdError('TOKEN_ERROR', `token: ${what} failed on ${tokenName}`, undefined, { cause: e });
}
