/**
 * The unlocked vault: a navigation bar of the areas (registry.ts) beside the
 * current area's screen. Keyboard: the links are buttons in tab order, Alt+1..7
 * opens an area, Ctrl+L locks, Ctrl+F goes to the search of the keys, Ctrl+N
 * opens the new-key form, "?" (outside a text field) or F1 shows the help
 * overlay, Esc closes it.
 */
import { useEffect, useRef, useState } from 'react';
import { useVisibleScreens } from '../roles';
import { ScreenView } from '../screens';
import { CeremonyIndicator } from '../screens/ceremony/CeremonyScreen';
import { SCREENS } from '../screens/registry';
import { useSession } from '../stores/session';
import { useUi } from '../stores/ui';
import { ApprovalDialog } from './ApprovalDialog';

const SHORTCUTS: ReadonlyArray<readonly [string, string]> = [
  ['Ctrl+L', 'Lock the vault'],
  ['Ctrl+F', 'Search the keys'],
  ['Ctrl+N', 'New key'],
  ...SCREENS.map((s) => [`Alt+${s.key}`, `Open ${s.label}`] as const),
  ['Esc', 'Close a dialog, a form or this help'],
  ['? or F1', 'Show this help'],
];

function HelpOverlay({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(function open() {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="help-title" data-testid="help" onClose={onClose}>
      <h2 id="help-title">Keyboard shortcuts</h2>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map(([k, what]) => (
            <tr key={k}>
              <th scope="row"><kbd>{k}</kbd></th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="actions">
        <button type="button" className="button" onClick={() => ref.current?.close()} autoFocus>
          Close
        </button>
      </div>
    </dialog>
  );
}

function isTextField(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
}

export function Shell() {
  const screen = useUi((s) => s.screen);
  const showScreen = useUi((s) => s.showScreen);
  const [help, setHelp] = useState(false);
  // Only the areas the signed-in operator may use are listed and reachable by shortcut (roles.ts).
  const visible = useVisibleScreens();
  const shown = visible.some((s) => s.id === screen) ? screen : 'keys';

  useEffect(
    function shortcuts() {
      function onKey(e: KeyboardEvent): void {
        const ctrl = e.ctrlKey || e.metaKey;
        const key = e.key.toLowerCase();
        if (ctrl && !e.altKey && key === 'l') {
          e.preventDefault();
          void useSession.getState().lock();
        } else if (ctrl && !e.altKey && key === 'f') {
          e.preventDefault();
          showScreen('keys');
          useUi.getState().showView('list');
          // After the keys screen renders its search box.
          requestAnimationFrame(() => document.querySelector<HTMLInputElement>('[data-testid="search"]')?.focus());
        } else if (ctrl && !e.altKey && key === 'n') {
          e.preventDefault();
          showScreen('keys');
          useUi.getState().showView('create');
        } else if (e.altKey && !ctrl) {
          const target = visible.find((s) => s.key === e.key);
          if (target) {
            e.preventDefault();
            showScreen(target.id);
          }
        } else if (e.key === 'Escape' && !e.defaultPrevented && document.querySelector('dialog[open]') === null) {
          // A modal <dialog> closes itself on Esc; otherwise Esc leaves the new-key form, wherever the focus is.
          if (useUi.getState().screen === 'keys' && useUi.getState().view === 'create') useUi.getState().showView('list');
        } else if (e.key === 'F1' || (e.key === '?' && !isTextField(e.target))) {
          e.preventDefault();
          setHelp(true);
        }
      }
      window.addEventListener('keydown', onKey);
      return () => window.removeEventListener('keydown', onKey);
    },
    [showScreen, visible],
  );

  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Vault areas">
        <ul>
          {visible.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                className="nav-link"
                aria-current={shown === s.id ? 'page' : undefined}
                onClick={() => showScreen(s.id)}
                data-testid={`nav-${s.id}`}
                aria-keyshortcuts={`Alt+${s.key}`}
              >
                {s.label}
              </button>
            </li>
          ))}
        </ul>
        <CeremonyIndicator />
        <button type="button" className="nav-link help-link" onClick={() => setHelp(true)} data-testid="nav-help" aria-keyshortcuts="F1">
          Shortcuts
        </button>
      </nav>
      <ScreenView id={shown} />
      {help ? <HelpOverlay onClose={() => setHelp(false)} /> : null}
      <ApprovalDialog />
    </div>
  );
}
