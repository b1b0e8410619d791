/**
 * keyhold-import: the format of Keyhold rotation bundles (normative:
 * docs/bundle-format.md) and the server-side importer. The app's export side
 * uses the same code (buildPayload, encodePayload, signingInput,
 * assembleGeneralJws, encryptSecrets, buildTrustRoot...), so there is one
 * implementation of the format.
 */

export const FORMAT_VERSION = 1;

export { ImportError, IMPORT_ERROR_CODES, exitCodeFor, isImportError, type ImportErrorCode, type ImportErrorInfo } from './errors.js';
export { canonicalize, canonicalBytes, parseCanonical } from './jcs.js';
export { b64url, b64urlDecodeStrict, sha256Hex } from './encoding.js';
export { apiKeyId, verifierOf, VERIFIER_PREFIX } from './apikey.js';
export {
  BUNDLE_FORMAT,
  TRUST_FORMAT,
  SECRETS_FORMAT,
  REVOKE_REASONS,
  formatTime,
  parseBundlePayload,
  parseTrustRootPayload,
  type BundlePayload,
  type Change,
  type Checkpoint,
  type IssueChange,
  type RevokeChange,
  type RevokeReason,
  type SecretEntry,
  type SecretsPlaintext,
  type SignerJwk,
  type TrustRootPayload,
} from './schema.js';
export {
  BUNDLE_TYP,
  TRUST_TYP,
  JWS_ALGS,
  addSignature,
  algForJwk,
  assembleGeneralJws,
  encodeProtectedHeader,
  jwkThumbprint,
  normalizeSignerJwk,
  parseGeneralJws,
  payloadHash,
  signGeneralJws,
  signingInput,
  softwareSigner,
  importSignerKey,
  verifyJwsWithKey,
  type JwsAlg,
  type ProtectedHeader,
  type RawSignature,
  type Signer,
} from './jws.js';
export {
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_BUNDLE_BYTES,
  buildPayload,
  encodePayload,
  newBundleId,
  signBundle,
  verifyBundle,
  type BundleInput,
  type EncodedPayload,
  type VerifiedBundle,
  type VerifyOptions,
} from './bundle.js';
export { buildTrustRoot, encodeTrustRootPayload, loadTrustRoot, signTrustRoot, verifyRootRotation, type TrustRoot, type TrustRootInput } from './trust.js';
export {
  JWE_ALG,
  JWE_ENC,
  generateRecipientKey,
  loadRecipientPrivateKey,
  recipientId,
  recipientPublicJwk,
  type RecipientCurve,
  type RecipientKeyPair,
  type RecipientPrivateKey,
  type RecipientPublicJwk,
} from './keys.js';
export { SECRETS_CTY, decryptCompactJwe, decryptSecrets, encryptSecrets } from './secrets.js';
export { KEYSTORE_FORMAT, checkPresentedKey, loadKeystore, parseKeystore, type KeyCheck, type Keystore, type KeystoreEntry } from './keystore.js';
export {
  HOLDER_SECRETS_FORMAT,
  RECEIPT_FORMAT,
  STATE_FORMAT,
  applyBundle,
  readState,
  updateTrustRoot,
  type ApplyOptions,
  type ApplyResult,
  type HeldSecret,
  type HolderSecrets,
  type ImporterState,
  type Receipt,
  type WithdrawnKey,
} from './state.js';
