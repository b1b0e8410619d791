/**
 * The service contract: every command of the custody engine with its input and
 * output schema. The CLI calls the core through it; the desktop app's IPC router
 * exposes it unchanged. Inputs are parsed here before the core sees them, so the
 * renderer (untrusted) and a script get the same validation and errors.
 */

import { z } from 'zod';
import type { ErrorInfo } from './errors.js';
import { codePointName, unsafeChar } from './text.js';
import { ROLES } from './roles.js';

const IDENT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SCOPE_RE = /^[A-Za-z0-9][A-Za-z0-9:._*/-]{0,127}$/;
const KEY_ID_RE = /^[0-9A-Za-z]{16}$/;
/** A key named by service/environment/name (each an identifier, so the two slashes are unambiguous). */
const KEY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A free-text field (owner, notes, labels, names from tokens): at most `max`
 * characters and none of the control or format characters of shared/text.ts
 * (a newline, U+009B or U+202E would let it forge or reorder printed lines).
 * Notes alone (`multiline`) may hold newlines and tabs.
 */
export function freeText(what: string, max: number, opts: { multiline?: boolean; min?: number } = {}) {
  const base = z.string().max(max, `${what} is longer than ${max} characters`);
  return (opts.min !== undefined ? base.min(opts.min, `${what} is empty`) : base).superRefine((text, ctx) => {
    const ch = unsafeChar(text, opts.multiline === true);
    if (ch !== null) {
      ctx.addIssue({ code: 'custom', message: `${what} contains ${codePointName(ch)}, a control or formatting character ` +
        `(${opts.multiline ? 'only newlines and tabs are allowed' : 'it must be one line of plain characters'})` });
    }
  });
}

export const MIN_NEW_PASSPHRASE = 12;
export const MAX_PASSPHRASE = 1024;

const ident = (what: string) =>
  z
    .string()
    .regex(
      IDENT_RE,
      `${what} must be 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );

export const keyIdSchema = z
  .string()
  .regex(KEY_ID_RE, 'the key id must be 16 letters and digits (see `keyhold key list`)');

/**
 * A key as commands take it: its 16-character id, or service/environment/name
 * (resolved to the id by the core: resolveKeyRef in electron/core/keys/rows.ts).
 */
export const keyRefSchema = z
  .string()
  .refine((s) => KEY_ID_RE.test(s) || KEY_NAME_RE.test(s),
    'the key id must be 16 letters and digits, or name the key as service/environment/name (see `keyhold key list`)');
export function isKeyId(s: string): boolean {
  return KEY_ID_RE.test(s);
}

export const passphraseSchema = z
  .string()
  .min(1, 'passphrase is empty')
  .max(MAX_PASSPHRASE, `passphrase is longer than ${MAX_PASSPHRASE} characters`);

/**
 * A new passphrase's length. Its strength (zxcvbn score >= 3) is checked by the
 * core on top of this (shared/strength.ts, requireStrongPassphrase in
 * electron/core/service.ts): zxcvbn's dictionaries load on first use, which a
 * synchronous schema cannot wait for.
 */
export const newPassphraseSchema = z
  .string()
  .min(MIN_NEW_PASSPHRASE, `a new passphrase needs at least ${MIN_NEW_PASSPHRASE} characters`)
  .max(MAX_PASSPHRASE, `passphrase is longer than ${MAX_PASSPHRASE} characters`);

export const vaultPathSchema = z
  .string()
  .min(1, 'vault path is empty')
  .max(4096, 'vault path is too long')
  .refine((p) => !p.includes('\0'), 'vault path contains a NUL character');

/** Argon2id parameters. Floors follow OWASP's minimum (19 MiB, 2 passes). */
export const kdfParamsSchema = z.strictObject({
  memoryKiB: z.number().int().min(19 * 1024, 'KDF memory must be at least 19 MiB').max(4 * 1024 * 1024),
  passes: z.number().int().min(2, 'KDF passes must be at least 2').max(64),
  parallelism: z.number().int().min(1).max(16),
});
export type KdfParams = z.infer<typeof kdfParamsSchema>;

export const scopesSchema = z
  .array(z.string().regex(SCOPE_RE, 'a scope must be 1-128 characters: letters, digits and : . _ * / -'))
  .max(64, 'at most 64 scopes')
  .refine((a) => new Set(a).size === a.length, 'scopes must not repeat');

// ---- outputs ---------------------------------------------------------------

export const keyslotInfoSchema = z.object({
  id: z.number().int(),
  type: z.enum(['passphrase', 'token', 'quorum']),
  label: z.string(),
  createdAt: z.string(),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
});
export type KeyslotInfo = z.infer<typeof keyslotInfoSchema>;

export const vaultInfoSchema = z.object({
  vaultId: z.string(),
  path: z.string(),
  schemaVersion: z.number().int(),
  createdAt: z.string(),
  keyslots: z.array(keyslotInfoSchema),
  counts: z.object({ keys: z.number().int(), keyVersions: z.number().int() }),
});
export type VaultInfo = z.infer<typeof vaultInfoSchema>;

export const keyStateSchema = z.enum(['pre-active', 'active', 'retiring', 'revoked', 'destroyed']);
export type KeyState = z.infer<typeof keyStateSchema>;

export const revokeReasonSchema = z.enum(['compromised', 'superseded', 'retired', 'other']);
export type RevokeReason = z.infer<typeof revokeReasonSchema>;

export const keyVersionInfoSchema = z.object({
  version: z.number().int(),
  state: keyStateSchema,
  createdAt: z.string(),
  activatedAt: z.string().nullable(),
  notAfter: z.string().nullable(),
  graceUntil: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokeReason: revokeReasonSchema.nullable(),
  destroyedAt: z.string().nullable(),
});
export type KeyVersionInfo = z.infer<typeof keyVersionInfoSchema>;

export const keySummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  service: z.string(),
  environment: z.string(),
  scopes: z.array(z.string()),
  owner: z.string(),
  state: keyStateSchema,
  currentVersion: z.number().int(),
  createdAt: z.string(),
});
export type KeySummary = z.infer<typeof keySummarySchema>;

/** A rotation policy; durations in seconds. */
export const policySchema = z.object({
  rotation: z.number().int(),
  grace: z.number().int(),
  warn: z.number().int(),
  lifetime: z.number().int(),
});
export type Policy = z.infer<typeof policySchema>;

export const effectivePolicySchema = policySchema.extend({
  /** Where each field came from: default, global, service:NAME or key:ID. */
  sources: z.object({ rotation: z.string(), grace: z.string(), warn: z.string(), lifetime: z.string() }),
});
export type EffectivePolicy = z.infer<typeof effectivePolicySchema>;

export const dueStatusSchema = z.enum(['overdue', 'due-soon', 'ok', 'inactive']);
export type DueStatus = z.infer<typeof dueStatusSchema>;

export const keyDetailSchema = keySummarySchema.extend({
  notes: z.string(),
  updatedAt: z.string(),
  versions: z.array(keyVersionInfoSchema),
  policy: effectivePolicySchema,
  due: z.object({ status: dueStatusSchema, rotateAt: z.string().nullable(), notAfter: z.string().nullable() }),
});
export type KeyDetail = z.infer<typeof keyDetailSchema>;

export const revealedKeySchema = z.object({
  id: z.string(),
  version: z.number().int(),
  secret: z.string(),
});
export type RevealedKey = z.infer<typeof revealedKeySchema>;

export const dueKeySchema = keySummarySchema.extend({
  status: dueStatusSchema,
  rotateAt: z.string().nullable(),
  notAfter: z.string().nullable(),
});
export type DueKey = z.infer<typeof dueKeySchema>;

/**
 * A page of the key list as columns (key.table), for the app's list of up to
 * hundreds of thousands of keys: each row i is id[i], name[i], and for every
 * other column an index into `dict` (strings repeat: services, environments,
 * times of a batch), so a page crosses IPC at a fraction of the size of
 * key.list's objects. `scopes` indexes the scopes as JSON array text; `due` is
 * the due status (dueStatusSchema) under the key's effective policy, `rotateAt`
 * when its current version is due (-1: none). Every row is MAC-checked.
 */
export const keyTableSchema = z.object({
  /** Keys in the vault, counted on a first page (no `after`); null on the pages after it. */
  total: z.number().int().nullable(),
  /** The `after` of the following page, or null on the last one. */
  next: z.string().nullable(),
  dict: z.array(z.string()),
  id: z.array(z.string()),
  name: z.array(z.string()),
  service: z.array(z.number().int()),
  environment: z.array(z.number().int()),
  scopes: z.array(z.number().int()),
  owner: z.array(z.number().int()),
  state: z.array(z.number().int()),
  currentVersion: z.array(z.number().int()),
  createdAt: z.array(z.number().int()),
  due: z.array(z.number().int()),
  rotateAt: z.array(z.number().int()),
});
export type KeyTable = z.infer<typeof keyTableSchema>;

export const rotationSchema = z.object({ id: z.string(), from: z.number().int(), to: z.number().int(), graceUntil: z.string() });

export const auditEntrySchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  host: z.string(),
  workstation: z.string(),
  action: z.string(),
  subject: z.string(),
  keyId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

export const auditVerifySchema = z.object({
  ok: z.boolean(),
  entries: z.number().int(),
  head: z.object({ seq: z.number().int(), hash: z.string() }),
  firstBroken: z.object({ seq: z.number().int(), reason: z.string() }).nullable(),
  tookMs: z.number(),
});
export type AuditVerifyReport = z.infer<typeof auditVerifySchema>;

// ---- tokens (PKCS#11) --------------------------------------------------------

export const pinFlagsSchema = z.object({ countLow: z.boolean(), finalTry: z.boolean(), locked: z.boolean(), toBeChanged: z.boolean() });

export const tokenInfoSchema = z.object({
  module: z.string(),
  slot: z.string(),
  /** An uninitialised token (a free slot, a blank card): no label, serial, keys or PIN. */
  empty: z.boolean(),
  label: z.string(),
  manufacturer: z.string(),
  model: z.string(),
  serial: z.string(),
  flags: z.object({
    initialized: z.boolean(),
    loginRequired: z.boolean(),
    userPinInitialized: z.boolean(),
    protectedAuthenticationPath: z.boolean(),
    writeProtected: z.boolean(),
    removable: z.boolean(),
    hardware: z.boolean(),
  }),
  /** The user PIN state the token reports; null for an empty slot, which has no PIN. */
  pin: pinFlagsSchema.nullable(),
  mechanisms: z.array(z.string()),
});
export type TokenInfo = z.infer<typeof tokenInfoSchema>;

export const publicJwkSchema = z.union([
  z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string() }),
  z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string() }),
]);

export const tokenKeySchema = z.object({
  label: z.string(),
  id: z.string(),
  keyType: z.enum(['EC-P256', 'Ed25519', 'EC', 'RSA', 'other']),
  alg: z.enum(['ES256', 'EdDSA']).nullable(),
  canSign: z.boolean(),
  canDerive: z.boolean(),
  canVerify: z.boolean(),
  hasPrivateKey: z.boolean(),
  hasPublicKey: z.boolean(),
  jwk: publicJwkSchema.nullable(),
  kid: z.string().nullable(),
});
export type TokenKeyInfo = z.infer<typeof tokenKeySchema>;

const tokenSelector = freeText('the token label', 64, { min: 1 });
const tokenKeyLabel = freeText('the key label', 64, { min: 1 });
/**
 * A PIN travels only in a command's input and is never stored. It is for one
 * token: the one the input's `token` names, or the only token the command
 * logs in to; it is never tried on another (TOKEN_AMBIGUOUS when it could be
 * for several).
 */
export const pinSchema = z.string().min(1, 'PIN is empty').max(255, 'PIN is longer than 255 characters');
const pinInput = {
  pin: pinSchema.optional(),
  /** Spend the token's final PIN try (the token said one try is left). */
  allowFinalTry: z.boolean().default(false),
};

/**
 * Opens a vault that a token's rollback anchor refuses (ROLLBACK_DETECTED,
 * ANCHOR_INVALID), for disaster recovery: the reason is recorded in a
 * `vault.rollbackAccepted` audit entry and the anchor moves to this file
 * (electron/core/token/anchor.ts).
 */
export const acceptRollbackSchema = z.strictObject({ reason: freeText('the reason', 500, { min: 1 }) });

/** `anchor.status`: the vault's audit head and what each registered token's rollback anchor says. */
export const anchorStatusSchema = z.object({
  head: z.object({ seq: z.number().int(), at: z.string() }),
  tokens: z.array(z.object({
    serial: z.string(),
    /** The token's label when present, else null. */
    label: z.string().nullable(),
    present: z.boolean(),
    /** Whether the anchor was read (the token is present and logged in this session: the anchor is a private object). */
    checked: z.boolean(),
    state: z.enum(['none', 'current', 'older', 'behind', 'fork', 'invalid']).nullable(),
    anchorSeq: z.number().int().nullable(),
    anchorAt: z.string().nullable(),
    /** The anchor records the vault's head (null: not checked). */
    matches: z.boolean().nullable(),
  })),
});
export type AnchorStatus = z.infer<typeof anchorStatusSchema>;

// ---- bundles ---------------------------------------------------------------

export const recipientInfoSchema = z.object({
  /** RFC 7638 thumbprint of the recipient's public key: the `recipient` of its bundles. */
  id: z.string(),
  name: z.string(),
  publicJwk: z.record(z.string(), z.string()),
  verifies: z.array(z.string()),
  holds: z.array(z.string()),
  createdAt: z.string(),
  /** Sequence of the last bundle exported to it (0: none yet). */
  sequence: z.number().int(),
  /** SHA-256 of the last bundle's canonical payload, or null. */
  lastHash: z.string().nullable(),
});
export type RecipientInfo = z.infer<typeof recipientInfoSchema>;

export const signerInfoSchema = z.object({
  kid: z.string(),
  alg: z.enum(['ES256', 'EdDSA']),
  publicJwk: publicJwkSchema,
  token: z.string(),
  serial: z.string(),
  keyLabel: z.string(),
  keyId: z.string(),
  createdAt: z.string(),
});
export type SignerInfo = z.infer<typeof signerInfoSchema>;

/** What was done with a file an interrupted `bundle export` or `bundle resend` left (electron/core/bundle/recover.ts). */
export const recoveryNoteSchema = z.object({
  recipient: z.string(),
  sequence: z.number().int(),
  action: z.enum(['published', 'deleted', 'not-published']),
  path: z.string(),
  message: z.string(),
});

export const bundleExportSchema = z.object({
  path: z.string(),
  recipient: z.string(),
  recipientId: z.string(),
  sequence: z.number().int(),
  /** The bundle's identity: SHA-256 (hex) of its canonical payload. */
  hash: z.string(),
  issued: z.number().int(),
  revoked: z.number().int(),
  secrets: z.number().int(),
  signatures: z.array(z.string()),
  threshold: z.number().int(),
  bytes: z.number().int(),
  expiresAt: z.string(),
  checkpoint: z.object({ seq: z.number().int(), hash: z.string() }),
  tookMs: z.number(),
  /** Present when files an interrupted export left were settled first (docs/bundle-export.md, Recovery). */
  recovered: z.array(recoveryNoteSchema).optional(),
  /** With `qr`: the bundle file as QR codes (bundle-format.md, 14), part 1 first: each code's text and an SVG drawing. */
  qr: z.array(z.object({ index: z.number().int(), total: z.number().int(), text: z.string(), svg: z.string() })).optional(),
});
export type BundleExportReport = z.infer<typeof bundleExportSchema>;

/** A prepared bundle's id (bundle.prepare): it names a payload kept in the service's memory only. */
export const preparedIdSchema = z.string().regex(/^pb_[A-Za-z0-9_-]{22}$/, 'the prepared bundle id is not one bundle.prepare gave (prepare again)');

/** What a bundle will carry, before anything is signed (bundle.prepare; docs/bundle-export.md, "Before signing"). */
export const bundleSummarySchema = z.object({
  /** Pass it to bundle.export as `prepared` to sign and record exactly this payload. */
  prepared: z.string(),
  recipient: z.object({ name: z.string(), id: z.string() }),
  sequence: z.number().int(),
  revocationsOnly: z.boolean(),
  issued: z.number().int(),
  revoked: z.number().int(),
  secrets: z.number().int(),
  /** The changes, sorted by service, environment, name and version; at most a few dozen (moreKeys: how many are not listed). */
  keys: z.array(z.object({
    keyId: z.string(), service: z.string(), environment: z.string(), name: z.string(), version: z.number().int(),
    kind: z.enum(['issue', 'revoke']), reason: z.string().nullable(), secret: z.boolean(),
  })),
  moreKeys: z.number().int(),
  issuedAt: z.string(),
  expiresAt: z.string(),
  checkpoint: z.object({ seq: z.number().int(), hash: z.string() }),
  /** The bundle's identity: SHA-256 (hex) of its canonical payload, as bundle.export will report it. */
  hash: z.string(),
  /** The same hash as 24 words for reading aloud (shared/hash-words.ts). */
  words: z.array(z.string()),
  /** Size of the canonical payload in bytes (the file adds its signatures). */
  payloadBytes: z.number().int(),
  /** Signatures the bundle needs (distinct signer tokens). */
  threshold: z.number().int(),
  /** Until when bundle.export may sign this prepared payload. */
  preparedUntil: z.string(),
});
export type BundleSummary = z.infer<typeof bundleSummarySchema>;

const serviceList = z.array(ident('service')).max(256).refine((a) => new Set(a).size === a.length, 'services must not repeat');

const durationText = z.string().max(16);
const isoTime = z.string().max(40);
const policyScope = z.union([
  z.strictObject({ global: z.literal(true) }),
  z.strictObject({ service: ident('service') }),
  z.strictObject({ key: keyRefSchema }),
]);
export type PolicyScope = z.infer<typeof policyScope>;

/**
 * The vault's custody settings (electron/core/settings.ts): the desktop app
 * applies them after unlock. null: the vault does not set it and the
 * workstation's setting applies (docs/desktop.md, Settings).
 */
export const vaultSettingsSchema = z.object({
  /** Idle minutes before the app locks the vault; 0: never. */
  autoLockMinutes: z.number().int().nullable(),
  /** Seconds before a copied secret is cleared from the clipboard; 0: never. */
  clipboardClearSeconds: z.number().int().nullable(),
  /** Strict air gap: the app refuses to unlock (and locks) while a non-loopback network interface is up. */
  airgapStrict: z.boolean().nullable(),
});
export type VaultSettings = z.infer<typeof vaultSettingsSchema>;
export const MAX_AUTO_LOCK_MINUTES = 24 * 60;
export const MAX_CLIPBOARD_CLEAR_SECONDS = 3600;

// ---- operators and dual control ---------------------------------------------

export const roleSchema = z.enum(ROLES);
export const rolesSchema = z.array(roleSchema).min(1, 'name at least one role').max(ROLES.length)
  .refine((a) => new Set(a).size === a.length, 'roles must not repeat');
export const operatorNameSchema = ident('the operator name');

export const operatorInfoSchema = z.object({
  name: z.string(),
  roles: z.array(roleSchema),
  /** How the operator signs in; 'none': a vault migrated from before operators, until the operator sets one. */
  credential: z.enum(['passphrase', 'token', 'none']),
  /** For a token credential: the token and key that sign the challenge. */
  token: z.object({ label: z.string(), serial: z.string(), keyLabel: z.string(), keyId: z.string(), kid: z.string() }).nullable(),
  createdAt: z.string(),
});
export type OperatorInfo = z.infer<typeof operatorInfoSchema>;

export const whoamiSchema = z.object({
  /** The signed-in operator, or null. */
  operator: operatorInfoSchema.nullable(),
  /** Operators' names (to pick one when signing in). */
  operators: z.array(z.string()),
  /** True when the vault has two or more operators and no one is signed in: commands other than unlock/lock/status fail OPERATOR_REQUIRED. */
  signInRequired: z.boolean(),
  /** How each operator signs in (public facts only): the credential kind and, for a token, which token asks for the PIN. */
  signIn: z.array(z.object({
    name: z.string(),
    credential: z.enum(['passphrase', 'token', 'none']),
    token: z.object({ label: z.string(), serial: z.string() }).nullable(),
  })),
});

/** A credential given with operator.add / operator.setCredential: exactly one of passphrase, or token + keyLabel. */
const operatorCredentialInput = z.strictObject({
  passphrase: newPassphraseSchema.optional(),
  token: freeText('the token label', 64, { min: 1 }).optional(),
  keyLabel: freeText('the key label', 64, { min: 1 }).optional(),
  ...pinInput,
});
function oneCredential(v: { passphrase?: string | undefined; token?: string | undefined; keyLabel?: string | undefined }, ctx: z.RefinementCtx): void {
  const tokenGiven = v.token !== undefined || v.keyLabel !== undefined;
  if (v.passphrase !== undefined && tokenGiven) {
    ctx.addIssue({ code: 'custom', message: 'give either a passphrase or a token key, not both' });
  } else if (v.passphrase === undefined && !tokenGiven) {
    ctx.addIssue({ code: 'custom', message: 'give the operator a credential: a passphrase, or a token and the label of its key' });
  } else if (tokenGiven && (v.token === undefined || v.keyLabel === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'a token credential needs both the token and the label of its key' });
  }
}

export const approvalIdSchema = z.string().regex(/^ap_[A-Za-z0-9_-]{22}$/, 'the approval id is not one approval.request gave (ask again)');

export const approvalSchema = z.object({
  id: z.string(),
  command: z.string(),
  /** What is to be done, in lines for people (what, which key or recipient, counts). */
  summary: z.array(z.string()),
  /** SHA-256 (hex) of the canonical JSON of the command's parsed input, without PINs, passphrases and output paths. */
  paramsHash: z.string(),
  /** The same hash as 24 words, for reading aloud. */
  words: z.array(z.string()),
  requestedBy: z.string(),
  /** null until granted. */
  approvedBy: z.string().nullable(),
  expiresAt: z.string(),
});
export type ApprovalInfo = z.infer<typeof approvalSchema>;

export const dualControlSchema = z.object({
  /** The commands that need a second operator's approval (when active). */
  commands: z.array(z.string()),
  defaults: z.array(z.string()),
  /** False with fewer than two operators able to approve (custodian or security officer): then nothing needs approval. */
  active: z.boolean(),
  /** Why it is not active (null when it is). */
  reason: z.string().nullable(),
  /** Operators who may approve (custodians and security officers). */
  approvers: z.array(z.string()),
});
export type DualControlInfo = z.infer<typeof dualControlSchema>;

// ---- ceremonies (issue 12; electron/core/ceremony/) -------------------------

/** A ceremony's signed checkpoint: the audit head at its end, signed on a token by a registered signer (compact JWS). */
export const ceremonyCheckpointSchema = z.object({
  /** The audit head the checkpoint signs: the last entry of the ceremony before its end. */
  seq: z.number().int(),
  hash: z.string(),
  jws: z.string(),
  kid: z.string(),
  /** The signer's key thumbprint (its kid) as hex, grouped by four for reading aloud. */
  fingerprint: z.string(),
});

export const ceremonyInfoSchema = z.object({
  /** The audit sequence of its ceremony.start entry. */
  id: z.number().int(),
  purpose: z.string(),
  present: z.array(z.string()),
  startedAt: z.string(),
  startedBy: z.string(),
  endedAt: z.string().nullable(),
  endedBy: z.string().nullable(),
  /** Audit entries between its start and its end (or the head, while open). */
  steps: z.number().int(),
  open: z.boolean(),
  checkpoint: ceremonyCheckpointSchema.nullable(),
});
export type CeremonyInfo = z.infer<typeof ceremonyInfoSchema>;

// ---- commands --------------------------------------------------------------

const empty = z.strictObject({});

/**
 * A destructive command's dry run: the core runs the change to its end in its
 * transaction, rolls it back (Vault.rehearse) and returns the would-be result
 * marked `dryRun: true`; nothing is written, no audit entry either.
 */
const dryRunInput = { dryRun: z.boolean().optional() };
const dryRunOutput = { dryRun: z.literal(true).optional() };

export const keyCreateInput = z.strictObject({
  name: ident('name'),
  service: ident('service'),
  environment: ident('environment').default('production'),
  scopes: scopesSchema.default([]),
  owner: freeText('the owner', 128).default(''),
  notes: freeText('the notes', 4096, { multiline: true }).default(''),
  /** ISO 8601 time: the key is made pre-active and activates then (its secret can be handed out before). */
  activateAt: z.string().max(40).optional(),
});
export type KeyCreateInput = z.input<typeof keyCreateInput>;
export type KeyCreateSpec = z.output<typeof keyCreateInput>;

// ---- quorum unlock (issue 12; electron/core/vault/quorum.ts) ----------------

export const MAX_QUORUM_CUSTODIANS = 16;
export const quorumSessionSchema = z.string().regex(/^qs_[A-Za-z0-9_-]{22}$/, 'the session id is not one quorum.begin gave (start again)');
const custodianName = ident('the custodian name');
const slotIdSchema = z.number().int().positive('keyslot id must be a positive integer');
/** A new custodian of a quorum slot: a passphrase (strength-checked by the core), or a key on a token (its PIN for that token). */
export const newCustodianSchema = z.union([
  z.strictObject({ name: custodianName, passphrase: newPassphraseSchema }),
  z.strictObject({ name: custodianName, token: tokenSelector, keyLabel: tokenKeyLabel, ...pinInput }),
]);
const custodianList = z.array(newCustodianSchema).min(2, 'a quorum needs at least 2 custodians')
  .max(MAX_QUORUM_CUSTODIANS, `at most ${MAX_QUORUM_CUSTODIANS} custodians`)
  .refine((a) => new Set(a.map((c) => c.name)).size === a.length, 'custodian names must not repeat');
const quorumM = z.number().int().min(2, 'm must be at least 2').max(MAX_QUORUM_CUSTODIANS);
export const quorumStateSchema = z.object({
  session: z.string(),
  slot: z.number().int(),
  m: z.number().int(),
  n: z.number().int(),
  /** Each custodian, in slot order; a token custodian's token (label, serial) to find it and name it at the PIN prompt. */
  custodians: z.array(z.object({ name: z.string(), kind: z.enum(['passphrase', 'token']),
    token: z.object({ label: z.string(), serial: z.string() }).optional() })),
  collected: z.number().int(),
  /** The custodians whose share is in, in slot order. */
  given: z.array(z.string()),
});
export type QuorumState = z.infer<typeof quorumStateSchema>;

export const contract = {
  'vault.create': {
    input: z.strictObject({
      path: vaultPathSchema,
      passphrase: newPassphraseSchema,
      kdf: kdfParamsSchema.optional(),
      /** The first operator's name (default: the OS user); it holds every role and signs in with this passphrase. */
      operator: operatorNameSchema.optional(),
    }),
    output: vaultInfoSchema,
  },
  'vault.unlock': {
    input: z.strictObject({ path: vaultPathSchema, passphrase: passphraseSchema, acceptRollback: acceptRollbackSchema.optional() }),
    output: vaultInfoSchema,
  },
  'vault.lock': { input: empty, output: z.object({ locked: z.literal(true) }) },
  'vault.status': {
    input: empty,
    output: z.object({ unlocked: z.boolean(), path: z.string().nullable() }),
  },
  'vault.info': { input: empty, output: vaultInfoSchema },
  /** An encrypted backup of the whole vault to a new file (docs/backup.md); audited `vault.backup`. */
  'vault.backup': {
    input: z.strictObject({ out: vaultPathSchema }),
    output: z.object({ path: z.string(), bytes: z.number().int(), sha256: z.string(), vaultId: z.string(), backupId: z.string(),
      createdAt: z.string(), head: z.object({ seq: z.number().int(), hash: z.string() }) }),
  },
  /**
   * Restores a backup as a new vault at `path` (never over a file), opened with one of the backup's keyslots
   * (a passphrase, or `unlock: 'token'`); audited `vault.restore` in it, and left unlocked.
   */
  'vault.restore': {
    input: z.union([
      z.strictObject({ file: vaultPathSchema, path: vaultPathSchema, passphrase: passphraseSchema, acceptRollback: acceptRollbackSchema.optional() }),
      z.strictObject({ file: vaultPathSchema, path: vaultPathSchema, unlock: z.literal('token'), token: tokenSelector.optional(), ...pinInput,
        acceptRollback: acceptRollbackSchema.optional() }),
    ]),
    output: vaultInfoSchema.extend({
      restoredFrom: z.object({ file: z.string(), sha256: z.string(), backupId: z.string(), createdAt: z.string(),
        head: z.object({ seq: z.number().int(), hash: z.string() }) }),
    }),
  },
  'vault.unlockToken': {
    input: z.strictObject({ path: vaultPathSchema, token: tokenSelector.optional(), ...pinInput,
      acceptRollback: acceptRollbackSchema.optional() }),
    output: vaultInfoSchema,
  },
  /** The rollback anchor on each registered token (read-only; docs/threat-model.md). */
  'anchor.status': { input: empty, output: anchorStatusSchema },
  'slot.list': { input: empty, output: z.array(keyslotInfoSchema) },
  'slot.addToken': {
    input: z.strictObject({
      token: tokenSelector,
      keyLabel: tokenKeyLabel,
      label: freeText('the slot label', 64).default(''),
      ...pinInput,
    }),
    output: keyslotInfoSchema,
  },
  'slot.addPassphrase': {
    input: z.strictObject({
      passphrase: newPassphraseSchema,
      label: freeText('the slot label', 64).default(''),
      kdf: kdfParamsSchema.optional(),
    }),
    output: keyslotInfoSchema,
  },
  'slot.remove': {
    input: z.strictObject({ id: z.number().int().positive('keyslot id must be a positive integer'), ...dryRunInput }),
    // The slot removed (type, label) and how many passphrase slots are left: 0 means only a token opens the vault.
    output: z.object({ removed: z.number().int(), slot: keyslotInfoSchema, passphraseSlotsLeft: z.number().int(), ...dryRunOutput }),
  },
  'passphrase.change': {
    input: z.strictObject({
      current: passphraseSchema,
      next: newPassphraseSchema,
      kdf: kdfParamsSchema.optional(),
    }),
    output: keyslotInfoSchema,
  },
  // ---- quorum unlock (issue 12; electron/core/vault/quorum.ts, docs/cli.md 3.23a) ----
  /** Starts collecting the shares of a locked vault's quorum slot (the only one, or `slot`). */
  'quorum.begin': {
    input: z.strictObject({ path: vaultPathSchema, slot: slotIdSchema.optional() }),
    output: quorumStateSchema,
  },
  /**
   * One custodian's share: their passphrase, their token's PIN, or their paper
   * share's words. With the M-th share the vault is unlocked (`vault`).
   */
  'quorum.share': {
    input: z.strictObject({
      session: quorumSessionSchema,
      custodian: custodianName,
      passphrase: passphraseSchema.optional(),
      words: z.string().min(1, 'the paper share is empty').max(2000, 'the paper share is longer than 2000 characters').optional(),
      ...pinInput,
      /** With the M-th share: open a vault older than a registered token's record anyway (audited; docs/cli.md 3.1a). */
      acceptRollback: acceptRollbackSchema.optional(),
    }).refine((v) => [v.passphrase, v.words, v.pin].filter((x) => x !== undefined).length <= 1,
      'give one of: the passphrase, the paper share words, the PIN'),
    output: quorumStateSchema.omit({ session: true, custodians: true, m: true, n: true }).extend({
      needed: z.number().int(),
      unlocked: z.boolean(),
      vault: vaultInfoSchema.optional(),
    }),
  },
  /** Ends a collection: every share collected is wiped. */
  'quorum.cancel': { input: z.strictObject({ session: quorumSessionSchema }), output: z.object({ cancelled: z.boolean() }) },
  /** A quorum keyslot: any m of the custodians unlock. */
  'slot.addQuorum': {
    input: z.strictObject({ m: quorumM, custodians: custodianList, label: freeText('the slot label', 64).default(''),
      kdf: kdfParamsSchema.optional() }),
    output: keyslotInfoSchema,
  },
  /** A new split for a quorum slot (a new slot; the old one removed in the same transaction: its shares stop working). */
  'slot.reshare': {
    input: z.strictObject({ slot: slotIdSchema, m: quorumM.optional(), custodians: custodianList,
      label: freeText('the slot label', 64).optional(), kdf: kdfParamsSchema.optional() }),
    output: z.object({ removed: z.number().int(), slot: keyslotInfoSchema }),
  },
  /** A custodian's share as paper: words with a check word per line, and a QR code (SVG) of the same text. */
  'share.paper': {
    input: z.strictObject({ slot: slotIdSchema, custodian: custodianName, passphrase: passphraseSchema.optional(), ...pinInput }),
    output: z.object({ slot: z.number().int(), custodian: z.string(), lines: z.array(z.string()), text: z.string(), qr: z.string() }),
  },
  'key.create': { input: keyCreateInput, output: keySummarySchema },
  'key.list': {
    input: z.strictObject({
      service: ident('service').optional(),
      environment: ident('environment').optional(),
      query: freeText('the query', 128).optional(),
    }),
    output: z.array(keySummarySchema),
  },
  'key.table': {
    input: z.strictObject({
      /** 'list': the first `limit` keys in key.list's order (service, environment, name), a first screenful; 'id': key id order, the fastest read, in pages. */
      order: z.enum(['list', 'id']).default('id'),
      /** Id order only: keys whose id sorts after this (the previous page's `next`, or a prefix: a range's start). */
      after: z.string().regex(/^[0-9A-Za-z]{1,16}$/, 'after must be a key id or its first characters').optional(),
      /** Id order only: keys whose id sorts before this (a range's end), so that ranges can be read side by side. */
      before: z.string().regex(/^[0-9A-Za-z]{1,16}$/, 'before must be a key id or its first characters').optional(),
      limit: z.number().int().min(1).max(100_000).default(25_000),
    }),
    output: keyTableSchema,
  },
  'key.show': { input: z.strictObject({ id: keyRefSchema }), output: keyDetailSchema },
  'key.reveal': {
    input: z.strictObject({ id: keyRefSchema, version: z.number().int().positive().optional() }),
    output: revealedKeySchema,
  },
  'key.due': {
    input: z.strictObject({ all: z.boolean().default(false) }),
    output: z.array(dueKeySchema),
  },
  'key.rotate': {
    input: z.union([
      z.strictObject({ ids: z.array(keyRefSchema).min(1, 'name at least one key').max(1_000_000), ...dryRunInput }),
      z.strictObject({ due: z.literal(true), ...dryRunInput }),
      z.strictObject({ all: z.literal(true), ...dryRunInput }),
    ]),
    output: z.object({ rotated: z.array(rotationSchema), tookMs: z.number(), ...dryRunOutput }),
  },
  'key.revoke': {
    input: z.strictObject({
      id: keyRefSchema,
      version: z.number().int().positive().optional(),
      reason: revokeReasonSchema,
      ...dryRunInput,
    }),
    output: z.object({ id: z.string(), versions: z.array(z.number().int()), reason: revokeReasonSchema,
      revokedAt: z.string(), tookMs: z.number(), ...dryRunOutput }),
  },
  'key.destroy': {
    input: z.strictObject({ id: keyRefSchema, version: z.number().int().positive().optional(), ...dryRunInput }),
    output: z.object({ id: z.string(), versions: z.array(z.number().int()), destroyedAt: z.string(), ...dryRunOutput }),
  },
  'policy.set': {
    input: z.strictObject({
      scope: policyScope,
      rotation: durationText.optional(),
      grace: durationText.optional(),
      warn: durationText.optional(),
      lifetime: durationText.optional(),
    }),
    output: effectivePolicySchema,
  },
  'policy.clear': { input: z.strictObject({ scope: policyScope }), output: effectivePolicySchema },
  'policy.show': { input: z.strictObject({ scope: policyScope }), output: effectivePolicySchema },
  'settings.show': { input: empty, output: vaultSettingsSchema },
  /** Changes the fields given (null: back to the workstation's setting); audited as settings.set with old and new values. */
  'settings.set': {
    input: z.strictObject({
      autoLockMinutes: z.number().int('auto-lock minutes must be a whole number')
        .min(0, 'auto-lock minutes must be 0 (off) or more')
        .max(MAX_AUTO_LOCK_MINUTES, `auto-lock minutes must be at most ${MAX_AUTO_LOCK_MINUTES} (a day)`).nullable().optional(),
      clipboardClearSeconds: z.number().int('clipboard clearing seconds must be a whole number')
        .min(0, 'clipboard clearing seconds must be 0 (never) or more')
        .max(MAX_CLIPBOARD_CLEAR_SECONDS, `clipboard clearing seconds must be at most ${MAX_CLIPBOARD_CLEAR_SECONDS} (an hour)`)
        .nullable().optional(),
      airgapStrict: z.boolean().nullable().optional(),
    }),
    output: vaultSettingsSchema,
  },
  'audit.list': {
    input: z.strictObject({
      key: keyRefSchema.optional(),
      action: z.string().max(64).optional(),
      actor: freeText('the actor', 128).optional(),
      since: isoTime.optional(),
      until: isoTime.optional(),
      after: z.number().int().nonnegative().optional(),
      limit: z.number().int().min(1).max(10_000).default(100),
    }),
    output: z.object({ entries: z.array(auditEntrySchema), next: z.number().int().nullable() }),
  },
  'audit.verify': { input: empty, output: auditVerifySchema },
  /**
   * Resolves a log cut off at the end (AUDIT_TRUNCATED): the head moves back
   * to the last intact entry and an `audit.recover` entry records the old and
   * new head and the reason (audit-log.md, 4.1). The CLI confirms first.
   */
  'audit.recover': {
    input: z.strictObject({ reason: freeText('the reason', 512, { min: 1 }) }),
    output: z.object({
      oldHead: z.object({ seq: z.number().int(), hash: z.string() }),
      newHead: z.object({ seq: z.number().int(), hash: z.string() }),
      missing: z.object({ from: z.number().int(), to: z.number().int() }),
      head: z.object({ seq: z.number().int(), hash: z.string() }),
    }),
  },
  'recipient.add': {
    input: z.strictObject({
      name: ident('recipient name'),
      /** The recipient's public key as a JWK (P-256 or X25519), from `keyhold-import keygen`. */
      publicKey: z.record(z.string(), z.unknown()),
      verifies: serviceList.default([]),
      holds: serviceList.default([]),
    }),
    output: recipientInfoSchema,
  },
  'recipient.list': { input: empty, output: z.array(recipientInfoSchema) },
  'signer.add': {
    input: z.strictObject({ token: tokenSelector, keyLabel: tokenKeyLabel }),
    /** warnings: e.g. the token already holds a signer (signers on one token count once toward the threshold). */
    output: signerInfoSchema.extend({ warnings: z.array(z.string()) }),
  },
  'signer.list': { input: empty, output: z.object({ threshold: z.number().int(), signers: z.array(signerInfoSchema) }) },
  'signer.threshold': {
    input: z.strictObject({ threshold: z.number().int().min(1, 'the threshold is at least 1').max(32) }),
    output: z.object({ threshold: z.number().int(), signers: z.number().int() }),
  },
  'bundle.export': {
    input: z.strictObject({
      recipient: ident('recipient name'),
      out: vaultPathSchema,
      revocationsOnly: z.boolean().default(false),
      /** How long the bundle is valid, e.g. 7d (at most 90d). */
      expires: durationText.default('7d'),
      /** Sign with the signers on this token only (label or serial); the PIN given is for it. */
      token: tokenSelector.optional(),
      /** Sign and record this prepared payload (bundle.prepare), exactly; recipient, revocationsOnly and expires must be the ones it was prepared with. */
      prepared: preparedIdSchema.optional(),
      /** Also give the bundle as QR codes (revocations-only bundles only; bundle-format.md, 14): the file is written and recorded as ever. */
      qr: z.boolean().optional(),
      ...pinInput,
    }),
    output: bundleExportSchema,
  },
  /** The first half of an export, for the app's summary before signing: nothing is signed or recorded (app-only, no CLI command). */
  'bundle.prepare': {
    input: z.strictObject({
      recipient: ident('recipient name'),
      revocationsOnly: z.boolean().default(false),
      expires: durationText.default('7d'),
    }),
    output: bundleSummarySchema,
  },
  'bundle.resend': {
    input: z.strictObject({
      recipient: ident('recipient name'),
      out: vaultPathSchema,
      sequence: z.number().int().positive('a bundle sequence is a positive integer').optional(),
    }),
    output: z.object({ path: z.string(), recipient: z.string(), sequence: z.number().int(), hash: z.string(), bytes: z.number().int(),
      recovered: z.array(recoveryNoteSchema).optional() }),
  },
  'bundle.sign': {
    input: z.strictObject({ file: vaultPathSchema, token: tokenSelector.optional(), keyLabel: tokenKeyLabel.optional(), ...pinInput }),
    output: z.object({ path: z.string(), kid: z.string(), signatures: z.array(z.string()), hash: z.string() }),
  },
  'trust.export': {
    input: z.strictObject({ out: vaultPathSchema, expires: durationText.optional(), token: tokenSelector.optional(), ...pinInput }),
    output: z.object({ path: z.string(), version: z.number().int(), threshold: z.number().int(),
      signers: z.array(z.string()), signatures: z.array(z.string()), hash: z.string() }),
  },
  'token.list': { input: empty, output: z.array(tokenInfoSchema) },
  'token.keys': {
    input: z.strictObject({ token: tokenSelector.optional(), login: z.boolean().default(false), ...pinInput }),
    output: z.array(z.object({ token: tokenInfoSchema, keys: z.array(tokenKeySchema) })),
  },
  'token.keygen': {
    input: z.strictObject({ token: tokenSelector, label: tokenKeyLabel, alg: z.enum(['ES256', 'EdDSA']), ...pinInput }),
    output: tokenKeySchema.extend({ token: tokenInfoSchema }),
  },
  'audit.export': {
    input: z.strictObject({ out: vaultPathSchema }),
    output: z.object({ path: z.string(), entries: z.number().int(), head: z.object({ seq: z.number().int(), hash: z.string() }) }),
  },
  // ---- ceremonies (issue 12; electron/core/ceremony/, docs/cli.md ceremony) ----
  /** Opens a ceremony: its purpose and the people present; one at a time (CEREMONY_STATE). */
  'ceremony.start': {
    input: z.strictObject({
      purpose: freeText('the purpose', 512, { min: 1 }),
      present: z.array(freeText('a name', 128, { min: 1 })).min(1, 'name at least one person present').max(20, 'at most 20 people present')
        .refine((a) => new Set(a).size === a.length, 'the names of the people present must not repeat'),
    }),
    output: ceremonyInfoSchema,
  },
  /** Ends the open ceremony with a checkpoint (the audit head) signed on the token by a registered signer. */
  'ceremony.end': {
    input: z.strictObject({ token: tokenSelector.optional(), keyLabel: tokenKeyLabel.optional(), ...pinInput }),
    output: ceremonyInfoSchema,
  },
  /** Past and open ceremonies, oldest first (from the audit log). */
  'ceremony.list': { input: empty, output: z.array(ceremonyInfoSchema) },
  /** The transcript PDF of a ceremony (default: the last one), its checkpoint verified; a new file, never over one. */
  'ceremony.transcript': {
    input: z.strictObject({ ceremony: z.number().int().positive('a ceremony id is a positive integer').optional(), out: vaultPathSchema }),
    output: z.object({ path: z.string(), ceremony: z.number().int(), steps: z.number().int(), bytes: z.number().int(),
      /** Whether the checkpoint verifies against the registered signer's public key; null while the ceremony is open. */
      verified: z.boolean().nullable() }),
  },
  // ---- operators, roles and dual control (issue 12; shared/roles.ts, electron/core/operators/) ----
  /** A new operator with its roles and its own credential: a passphrase, or a key on its token (token + keyLabel; the PIN is for that token). */
  'operator.add': {
    input: operatorCredentialInput.extend({ name: operatorNameSchema, roles: rolesSchema }).superRefine(oneCredential),
    output: operatorInfoSchema,
  },
  'operator.list': { input: empty, output: z.array(operatorInfoSchema) },
  'operator.remove': { input: z.strictObject({ name: operatorNameSchema }), output: z.object({ removed: z.string(), operators: z.number().int() }) },
  'operator.grant': { input: z.strictObject({ name: operatorNameSchema, roles: rolesSchema }), output: operatorInfoSchema },
  'operator.revoke': { input: z.strictObject({ name: operatorNameSchema, roles: rolesSchema }), output: operatorInfoSchema },
  /** Signs an operator in with its own credential (passphrase, or its token signs a fresh challenge with the PIN given). */
  'operator.signIn': {
    input: z.strictObject({ name: operatorNameSchema, passphrase: passphraseSchema.optional(), ...pinInput }),
    output: operatorInfoSchema,
  },
  'operator.signOut': { input: empty, output: z.object({ signedOut: z.literal(true) }) },
  /** Who is signed in (null: no one), and whether commands need a sign-in first (two or more operators). */
  'operator.whoami': { input: empty, output: whoamiSchema },
  /** Sets (or replaces) the signed-in operator's own credential: a migrated operator has none until then. */
  'operator.setCredential': {
    input: operatorCredentialInput.superRefine(oneCredential),
    output: operatorInfoSchema,
  },
  /**
   * Asks for a second operator's approval of one dual-controlled command with
   * exactly this input (docs/threat-model.md, Dual control); single use,
   * in memory only, expires after five minutes.
   */
  'approval.request': {
    input: z.strictObject({ command: z.string().max(64), input: z.record(z.string(), z.unknown()).default({}) }),
    output: approvalSchema,
  },
  /** Another operator (custodian or security officer) approves a request with its own credential. */
  'approval.grant': {
    input: z.strictObject({ id: approvalIdSchema, name: operatorNameSchema, passphrase: passphraseSchema.optional(), ...pinInput }),
    output: approvalSchema,
  },
  'dualControl.show': { input: empty, output: dualControlSchema },
  /** Replaces the set of dual-controlled commands (defaults: true restores the default set). */
  'dualControl.set': {
    input: z.union([
      z.strictObject({ commands: z.array(z.string().max(64)).max(128).refine((a) => new Set(a).size === a.length, 'commands must not repeat') }),
      z.strictObject({ defaults: z.literal(true) }),
    ]),
    output: dualControlSchema,
  },
} as const;

export type Contract = typeof contract;
export type CommandName = keyof Contract;
export type CommandInput<C extends CommandName> = z.input<Contract[C]['input']>;
export type CommandArgs<C extends CommandName> = z.output<Contract[C]['input']>;
export type CommandOutput<C extends CommandName> = z.output<Contract[C]['output']>;

export const COMMAND_NAMES = Object.keys(contract) as CommandName[];

export function isCommandName(x: unknown): x is CommandName {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(contract, x);
}

/** What every IPC command answers: its value, or an error whose code is one of shared/errors.ts (never a bare string). */
export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ErrorInfo };
