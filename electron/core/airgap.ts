/**
 * Strict air gap, wherever a vault is opened (the app's router, the CLI): a
 * vault whose settings ask for it (settings.set airgapStrict), or a
 * workstation set to require it (KEYHOLD_AIRGAP_STRICT), stays locked while a
 * network interface other than loopback is up. Only the list of interfaces
 * is read (os.networkInterfaces() in the callers); nothing is connected.
 */

import { KeyholdError } from '../../shared/errors.js';
import type { VaultSettings } from '../../shared/contract.js';
import type { KeyholdService } from './service.js';

/** One address of an interface, as os.networkInterfaces() gives it (flattened). */
export type InterfaceAddress = Readonly<{ name: string; family: string | number; internal: boolean; address: string }>;

/** Why an unlock is refused: the vault asks for it, its settings fail their check, the workstation requires it, or it is being turned on. */
export type AirgapReason = 'vault' | 'unreadable' | 'workstation' | 'turn-on';

/** os.networkInterfaces() flattened into one list of addresses. */
export function listInterfaces(
  byName: Readonly<Record<string, ReadonlyArray<{ family: string | number; internal: boolean; address: string }> | undefined>>,
): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [name, addrs] of Object.entries(byName)) {
    for (const a of addrs ?? []) out.push({ name, family: a.family, internal: a.internal, address: a.address });
  }
  return out;
}

/** KEYHOLD_AIRGAP_STRICT: 1, true, yes, on or strict (any case) make the workstation strict; anything else does not. */
export function strictFromEnv(raw: string | undefined): boolean {
  return /^(1|true|yes|on|strict)$/i.test(raw?.trim() ?? '');
}

/** The names of the interfaces that are up and not loopback, each once. */
export function externalInterfaceNames(list: readonly InterfaceAddress[]): string[] {
  return [...new Set(list.filter((i) => !i.internal).map((i) => i.name))];
}

export function airgapRefusal(names: readonly string[], why: AirgapReason): KeyholdError {
  const list = names.join(', ');
  const disconnect = `Disconnect the network (unplug the cable, turn off Wi-Fi) until only loopback is up${why === 'turn-on' ? ', then turn it on' : ', then unlock again'}.`;
  if (why === 'turn-on') {
    return new KeyholdError('AIRGAP_REQUIRED', `settings: strict air gap cannot be turned on while a network interface is up (${list})`,
      `${disconnect} Turned on now, it would lock the vault at once.`);
  }
  return new KeyholdError('AIRGAP_REQUIRED', `vault: strict air gap: a network interface is up (${list}), so the vault stays locked`,
    `${disconnect} ${why === 'vault' ? 'This vault requires an air-gapped workstation (Settings, strict air gap).'
      : why === 'unreadable' ? 'This vault\'s settings fail their integrity check, so strict air gap is assumed.'
        : 'This workstation is set to require it.'}`);
}

/** Turning strict air gap on while connected would lock the vault at once: refused (AIRGAP_REQUIRED). */
export function refuseStrictWhileConnected(interfaces: readonly InterfaceAddress[]): void {
  const names = externalInterfaceNames(interfaces);
  if (names.length > 0) throw airgapRefusal(names, 'turn-on');
}

/**
 * The vault's custody settings after an unlock, for enforcing them: what
 * settings.show says, or, when a settings row fails its check, none of its
 * times and strict air gap assumed (an edited row must not turn it off).
 */
async function settingsInForce(service: KeyholdService): Promise<{ settings: VaultSettings; unreadable: boolean }> {
  try {
    return { settings: await service.call('settings.show', {}), unreadable: false };
  } catch {
    return { settings: { autoLockMinutes: null, clipboardClearSeconds: null, airgapStrict: true }, unreadable: true };
  }
}

/**
 * After an unlock: if the workstation or the vault requires strict air gap
 * and an interface other than loopback is up, the vault is locked again and
 * AIRGAP_REQUIRED thrown. Returns the vault's settings otherwise.
 */
export async function enforceStrictAirgap(service: KeyholdService, workstationStrict: boolean,
  interfaces: readonly InterfaceAddress[]): Promise<VaultSettings> {
  const { settings, unreadable } = await settingsInForce(service);
  const names = externalInterfaceNames(interfaces);
  if ((workstationStrict || settings.airgapStrict === true) && names.length > 0) {
    await service.call('vault.lock', {});
    throw airgapRefusal(names, unreadable ? 'unreadable' : workstationStrict ? 'workstation' : 'vault');
  }
  return settings;
}
