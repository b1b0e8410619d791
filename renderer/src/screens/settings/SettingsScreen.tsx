/** Settings: placeholder until the screen lands (issue 11). */
import { ScreenTitle } from '../../components/common';

export function SettingsScreen() {
  return (
    <main className="screen wide" data-screen="settings">
      <div className="screen-head">
        <ScreenTitle>Settings</ScreenTitle>
      </div>
      <p className="empty">Not built yet.</p>
    </main>
  );
}
