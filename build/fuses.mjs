/**
 * electron-builder afterPack hook (build/electron-builder.yml): flips the
 * Electron fuses of the packaged binary, then reads them back and fails the
 * packaging if any differs. Fuses are bits in the Electron binary itself, so
 * they hold whatever the environment or command line of a later run says.
 * afterPack runs before code signing, as it must: flipping changes the binary.
 * electron-builder loads it with import() and calls its `afterPack` export.
 */
import path from 'node:path';
import electronFuses from '@electron/fuses';

// @electron/fuses is CommonJS: its default export is module.exports.
const { flipFuses, getCurrentFuseWire, FuseV1Options, FuseVersion } = electronFuses;

/**
 * Every fuse @electron/fuses 1.8 names, each chosen. Not strictlyRequireAllFuses:
 * a later Electron may carry a fuse this package does not name yet, and that
 * would stop packaging outright; afterPack warns about such a fuse instead (and
 * still fails on any fuse below that did not take).
 */
export const FUSES = Object.freeze({
  version: FuseVersion.V1,
  // ELECTRON_RUN_AS_NODE would turn the signed app into a plain Node with the vault's file access.
  [FuseV1Options.RunAsNode]: false,
  // NODE_OPTIONS (--require, --inspect...) would inject code into main.
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  // --inspect and friends would open a debugger on main (and a port, on an air-gapped machine).
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  // file:// pages get no extra privileges: the renderer is served from app://, never file://.
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
  // Only the app in app.asar runs; a loose folder (resources/app) planted beside it is ignored.
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  // app.asar is checked against the hash electron-builder embeds (enforced on macOS and Windows only).
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  // Keyhold stores no cookies (its only origin is app://, which has no cookie store). On Linux
  // this fuse makes Chromium open the desktop keyring at start, a prompt for nothing; left off.
  [FuseV1Options.EnableCookieEncryption]: false,
  // No custom V8 snapshot is shipped.
  [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
});

/** The packaged Electron binary (or .app bundle) in appOutDir, named as electron-builder names it. */
export function electronBinaryPath(context) {
  const platform = context.electronPlatformName;
  const packager = context.packager;
  if (platform === 'darwin' || platform === 'mas') return path.join(context.appOutDir, `${packager.appInfo.productFilename}.app`);
  if (platform === 'win32') return path.join(context.appOutDir, `${packager.appInfo.productFilename}.exe`);
  if (platform === 'linux') return path.join(context.appOutDir, packager.executableName);
  throw new Error(`fuses: unknown platform ${platform}`);
}

// Bytes of the fuse wire (getCurrentFuseWire gives them as numbers): '0', '1', 'r' (removed).
const WIRE_OFF = 0x30;
const WIRE_ON = 0x31;
const WIRE_REMOVED = 0x72;

function describe(state) {
  return state === WIRE_ON ? 'on' : state === WIRE_OFF ? 'off' : state === undefined ? 'absent' : `byte ${String(state)}`;
}

/** Fuses of FUSES whose state on the wire is not the one chosen (absent or removed ones included). */
export function mismatches(wire) {
  const bad = [];
  for (const [key, wanted] of Object.entries(FUSES)) {
    if (!/^\d+$/.test(key)) continue;
    if (wire[key] !== (wanted ? WIRE_ON : WIRE_OFF)) {
      bad.push(`${FuseV1Options[Number(key)]}: wanted ${wanted ? 'on' : 'off'}, found ${describe(wire[key])}`);
    }
  }
  return bad;
}

/**
 * Chosen fuses that this Electron marks removed ('r'): writing them is a no-op
 * (@electron/fuses writes the byte anyway, so this is only visible before).
 */
export function removed(wire) {
  return Object.keys(FUSES)
    .filter((k) => /^\d+$/.test(k) && wire[k] === WIRE_REMOVED)
    .map((k) => `${FuseV1Options[Number(k)]}: removed from this Electron, the choice would have no effect`);
}

/** Fuses on the wire that FUSES does not name (a newer Electron than @electron/fuses knows). */
export function unconfigured(wire) {
  return Object.keys(wire)
    .filter((k) => /^\d+$/.test(k) && !(k in FUSES))
    .map((k) => `fuse #${k}: ${describe(wire[k])}`);
}

export async function afterPack(context) {
  const binary = electronBinaryPath(context);
  const darwin = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas';
  // Flipping a fuse invalidates an ad-hoc signature (arm64 macOS will not start an unsigned binary);
  // electron-builder signs for real afterwards when a certificate is configured.
  const gone = removed(await getCurrentFuseWire(binary));
  if (gone.length > 0) throw new Error(`fuses: ${binary}: ${gone.join('; ')}`);
  await flipFuses(binary, { ...FUSES, resetAdHocDarwinSignature: darwin });
  const wire = await getCurrentFuseWire(binary);
  const bad = mismatches(wire);
  if (bad.length > 0) throw new Error(`fuses: ${binary}: ${bad.join('; ')}`);
  const unknown = unconfigured(wire);
  if (unknown.length > 0) {
    process.stdout.write(`  • fuses: WARNING: not chosen by build/fuses.mjs (update @electron/fuses and decide): ${unknown.join(', ')}\n`);
  }
  process.stdout.write(`  • fuses flipped and verified  path=${binary}\n`);
}

export default afterPack;
