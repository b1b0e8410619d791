/**
 * keyhold-import: the server-side importer of Keyhold rotation bundles
 * (normative: docs/bundle-format.md): the CLI, the state directory and apply
 * step, the keystore and the secrets outputs. The format itself (canonical
 * JSON, schemas, JWS and JWE, trust roots, API keys) is the keyhold-format
 * package, which the app's export side uses too; its library API is
 * re-exported here unchanged, so a server imports everything from
 * 'keyhold-import'.
 */

export { FORMAT_VERSION } from 'keyhold-format';

export { ImportError, IMPORT_ERROR_CODES, exitCodeFor, isImportError, type ImportErrorCode, type ImportErrorInfo } from 'keyhold-format';
export { canonicalize, canonicalBytes, parseCanonical } from 'keyhold-format';
export { b64url, b64urlDecodeStrict, sha256Hex } from 'keyhold-format';
export { apiKeyId, verifierOf, VERIFIER_PREFIX } from 'keyhold-format';
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
} from 'keyhold-format';
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
} from 'keyhold-format';
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
} from 'keyhold-format';
export { buildTrustRoot, encodeTrustRootPayload, loadTrustRoot, signTrustRoot, verifyRootRotation, type TrustRoot, type TrustRootInput } from 'keyhold-format';
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
} from 'keyhold-format';
export { SECRETS_CTY, decryptCompactJwe, decryptSecrets, encryptSecrets } from 'keyhold-format';
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
