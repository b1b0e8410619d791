/**
 * keyhold-format: the one implementation of the Keyhold rotation bundle
 * format (normative: docs/bundle-format.md), used by the app's export side
 * (electron/core) and by the server's importer (keyhold-import) by package
 * name; neither imports the other. Node and jose only.
 *
 * - canonical JSON (RFC 8785) and the strict parser: jcs.ts, canonical.ts
 * - the schemas of bundles, trust roots and secrets: schema.ts
 * - JWS (general serialization), thumbprints: jws.ts; JWE secrets: secrets.ts, keys.ts
 * - bundles: bundle.ts; trust roots: trust.ts; curve point checks: curves.ts
 * - the API-key text format, its checksum and verifier: apikey.ts, apikey-text.ts
 * - the bounded file reader and never-replacing / atomic writes: fsutil.ts
 * - one error type with typed codes: errors.ts
 * - QR transfer of a bundle file (the texts of its codes): qr.ts
 *
 * `keyhold-format/text` (text.ts) serves the pure part (no Node) to code that
 * also runs in a browser.
 */

export const FORMAT_VERSION = 1;

export * from './errors.js';
export * from './jcs.js';
export * from './encoding.js';
export * from './apikey.js';
export * from './curves.js';
export * from './schema.js';
export * from './jws.js';
export * from './bundle.js';
export * from './trust.js';
export * from './keys.js';
export * from './secrets.js';
export * from './fsutil.js';
export * from './qr.js';
