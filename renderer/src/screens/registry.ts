/**
 * The unlocked vault's areas, in the order the navigation lists them. Each area
 * is one screen (renderer/src/screens/index.tsx maps the id to its component)
 * with its own zustand store. `key` is the Alt+digit shortcut that opens it.
 * `requires`: the command whose permission (renderer/src/roles.ts) shows the
 * area; an operator who may not run it does not see it.
 */
export const SCREENS = [
  { id: 'keys', label: 'Keys', key: '1' },
  { id: 'rotation', label: 'Rotation', key: '2' },
  { id: 'tokens', label: 'Tokens', key: '3' },
  { id: 'bundles', label: 'Bundles', key: '4' },
  { id: 'audit', label: 'Audit', key: '5', requires: 'audit.list' },
  { id: 'keyslots', label: 'Keyslots', key: '6' },
  { id: 'settings', label: 'Settings', key: '7' },
  { id: 'operators', label: 'Operators', key: '8', requires: 'operator.add' },
  { id: 'ceremony', label: 'Ceremony', key: '9', requires: 'ceremony.list' },
] as const;

export type ScreenId = (typeof SCREENS)[number]['id'];

export function isScreenId(x: string): x is ScreenId {
  return SCREENS.some((s) => s.id === x);
}
