/**
 * Settings: the vault's custody settings (auto-lock, clipboard clearing,
 * strict air gap: stored in the vault, audited, applied by main), the air-gap
 * status as main sees it, the rotation policies (global and per service), and
 * this workstation's theme.
 */
import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { ErrorBlock, Loading, ScreenTitle } from '../../components/common';
import { plural } from '../../format';
import { usePermission } from '../../roles';
import { useSession } from '../../stores/session';
import { THEMES, useSettings, type Theme } from '../../stores/settings';
import { BackupSection } from '../backup/BackupSection';
import { PoliciesSection } from './PoliciesSection';

const minutes = (n: number): string => (n === 0 ? 'never (auto-lock off)' : plural(n, 'minute'));
const seconds = (n: number): string => (n === 0 ? 'never (not cleared)' : plural(n, 'second'));

function CustodySettings() {
  const s = useSettings(useShallow((x) => ({
    vault: x.vault, inForce: x.inForce, workstation: x.workstation, form: x.form, fieldErrors: x.fieldErrors,
    saving: x.saving, saveError: x.saveError, saved: x.saved, setField: x.setField, save: x.save,
  })));
  const ws = s.workstation;
  const wsStrict = ws?.airgapStrict === true;
  const canSet = usePermission('settings.set');
  function onSubmit(e: React.FormEvent): void {
    e.preventDefault();
    void s.save();
  }
  return (
    <section className="settings-card" aria-labelledby="custody-title" data-testid="custody-settings">
      <h2 id="custody-title">Vault custody settings</h2>
      <p className="hint">
        Stored in the vault and applied on every workstation that opens it. Each change is recorded in the audit log with the
        old and new value.
      </p>
      <form className="form" onSubmit={onSubmit} noValidate>
        <div className="field">
          <label htmlFor="set-auto-lock">Lock after idle time (minutes)</label>
          <input
            id="set-auto-lock"
            inputMode="numeric"
            value={s.form.autoLockMinutes}
            onChange={(e) => s.setField('autoLockMinutes', e.target.value)}
            aria-invalid={s.fieldErrors.autoLockMinutes ? true : undefined}
            aria-describedby="set-auto-lock-hint set-auto-lock-error"
            placeholder={ws ? `${ws.autoLockMinutes} (workstation)` : ''}
            data-testid="settings-auto-lock"
          />
          <p className="field-error" id="set-auto-lock-error">{s.fieldErrors.autoLockMinutes ?? ''}</p>
          <p className="hint" id="set-auto-lock-hint">
            0 turns auto-lock off. Empty: this workstation&apos;s setting{ws ? ` (${minutes(ws.autoLockMinutes)})` : ''}.
          </p>
        </div>
        <div className="field">
          <label htmlFor="set-clipboard">Clear a copied secret after (seconds)</label>
          <input
            id="set-clipboard"
            inputMode="numeric"
            value={s.form.clipboardClearSeconds}
            onChange={(e) => s.setField('clipboardClearSeconds', e.target.value)}
            aria-invalid={s.fieldErrors.clipboardClearSeconds ? true : undefined}
            aria-describedby="set-clipboard-hint set-clipboard-error"
            placeholder={ws ? `${ws.clipboardClearSeconds} (workstation)` : ''}
            data-testid="settings-clipboard"
          />
          <p className="field-error" id="set-clipboard-error">{s.fieldErrors.clipboardClearSeconds ?? ''}</p>
          <p className="hint" id="set-clipboard-hint">
            0 never clears it. Empty: this workstation&apos;s setting{ws ? ` (${seconds(ws.clipboardClearSeconds)})` : ''}.
          </p>
        </div>
        <fieldset className="choice-group" data-testid="settings-airgap">
          <legend>Strict air gap</legend>
          {([
            [true, 'Strict: refuse to unlock, and lock at once, while a network interface other than loopback is up', 'strict'],
            [false, 'Not strict: show a warning only', 'off'],
            [null, `Not set in the vault: this workstation's setting applies (${wsStrict ? 'strict' : 'not strict'})`, 'workstation'],
          ] as const).map(([value, label, id]) => (
            <label key={id} className={`choice${s.form.airgapStrict === value ? ' checked' : ''}`}>
              <input
                type="radio"
                name="airgap-strict"
                checked={s.form.airgapStrict === value}
                onChange={() => s.setField('airgapStrict', value)}
                data-testid={`settings-airgap-${id}`}
              />
              <span>{label}</span>
            </label>
          ))}
          {wsStrict ? (
            <p className="hint">This workstation requires strict air gap whatever the vault says.</p>
          ) : null}
        </fieldset>
        {s.saveError ? <ErrorBlock error={s.saveError} title="The settings were not saved" /> : null}
        <div className="actions">
          <button type="submit" className="button primary" disabled={s.saving || !canSet.allowed} title={canSet.reason ?? undefined}
            data-testid="settings-save">
            {s.saving ? 'Saving…' : 'Save settings'}
          </button>
        </div>
        <p role="status" className="saved-note" data-testid="settings-saved">{s.saved ?? ''}</p>
      </form>
      {s.inForce ? (
        <dl className="facts" data-testid="settings-in-force">
          <dt>Auto-lock now</dt>
          <dd data-testid="in-force-auto-lock" data-value={s.inForce.autoLockMinutes}>{minutes(s.inForce.autoLockMinutes)}</dd>
          <dt>Clipboard now</dt>
          <dd data-testid="in-force-clipboard" data-value={s.inForce.clipboardClearSeconds}>
            {s.inForce.clipboardClearSeconds === 0 ? 'never cleared' : `cleared after ${seconds(s.inForce.clipboardClearSeconds)}`}
          </dd>
          <dt>Air gap now</dt>
          <dd data-testid="in-force-airgap">{s.inForce.airgapStrict === true ? 'strict' : 'not strict (warning only)'}</dd>
        </dl>
      ) : null}
    </section>
  );
}

function AirgapStatus() {
  const airgap = useSession((x) => x.airgap);
  const strict = useSettings((x) => x.inForce?.airgapStrict === true);
  return (
    <section className="settings-card" aria-labelledby="airgap-title" data-testid="airgap-status">
      <h2 id="airgap-title">Air gap</h2>
      {!airgap ? (
        <p className="hint">Not known yet.</p>
      ) : airgap.isolated ? (
        <p className="airgap-state airgap-ok" data-testid="airgap-isolated">
          <span className="badge">Air-gapped</span> No network interface other than loopback is up.
        </p>
      ) : (
        <>
          <p className="airgap-state airgap-up" data-testid="airgap-connected">
            <span className="badge">Connected</span>{' '}
            {plural(airgap.interfaces.length, 'network address', 'network addresses')} up.{' '}
            {strict ? 'Strict air gap is on: the vault cannot be unlocked until they are down.' : 'Disconnect before handling keys.'}
          </p>
          <div className="table-scroll">
            <table className="settings-table">
              <caption className="visually-hidden">Network interfaces up</caption>
              <thead>
                <tr>
                  <th scope="col">Interface</th>
                  <th scope="col">Family</th>
                  <th scope="col">Address</th>
                </tr>
              </thead>
              <tbody>
                {airgap.interfaces.map((i) => (
                  <tr key={`${i.name} ${i.address}`}>
                    <td>{i.name}</td>
                    <td>{i.family}</td>
                    <td className="addr">{i.address}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <p className="hint">Checked by the app every few seconds; loopback (127.0.0.1, ::1) does not count.</p>
    </section>
  );
}

const THEME_LABEL: Readonly<Record<Theme, string>> = { system: 'Follow the system', light: 'Light', dark: 'Dark' };

function ThemeChoice() {
  const { theme, setTheme } = useSettings(useShallow((x) => ({ theme: x.theme, setTheme: x.setTheme })));
  return (
    <section className="settings-card" aria-labelledby="theme-title" data-testid="theme-settings">
      <h2 id="theme-title">Appearance</h2>
      <fieldset className="choice-group">
        <legend>Theme</legend>
        {THEMES.map((t) => (
          <label key={t} className={`choice${theme === t ? ' checked' : ''}`}>
            <input type="radio" name="theme" checked={theme === t} onChange={() => setTheme(t)} data-testid={`theme-${t}`} />
            <span>{THEME_LABEL[t]}</span>
          </label>
        ))}
      </fieldset>
      <p className="hint">This workstation only; not stored in the vault.</p>
    </section>
  );
}

export function SettingsScreen() {
  const { status, loadError, load } = useSettings(useShallow((x) => ({ status: x.status, loadError: x.loadError, load: x.load })));
  useEffect(
    function loadSettings() {
      void load();
    },
    [load],
  );
  return (
    <main className="screen wide settings-screen" data-screen="settings">
      <div className="screen-head">
        <ScreenTitle>Settings</ScreenTitle>
      </div>
      {status === 'loading' || status === 'idle' ? (
        <Loading label="Loading settings…" />
      ) : (
        <div className="settings-grid">
          {status === 'error' && loadError ? (
            <section className="settings-card" aria-labelledby="custody-title">
              <h2 id="custody-title">Vault custody settings</h2>
              <ErrorBlock error={loadError} title="The settings could not be read">
                <div className="actions">
                  <button type="button" className="button" onClick={() => void load()} data-testid="settings-retry">
                    Try again
                  </button>
                </div>
              </ErrorBlock>
            </section>
          ) : (
            <CustodySettings />
          )}
          <div className="settings-side">
            <AirgapStatus />
            <BackupSection />
            <ThemeChoice />
          </div>
          <PoliciesSection />
        </div>
      )}
    </main>
  );
}
