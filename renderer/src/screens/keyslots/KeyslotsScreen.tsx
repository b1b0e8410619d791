/** Keyslots: placeholder until the screen lands (issue 11). */
import { ScreenTitle } from '../../components/common';

export function KeyslotsScreen() {
  return (
    <main className="screen wide" data-screen="keyslots">
      <div className="screen-head">
        <ScreenTitle>Keyslots</ScreenTitle>
      </div>
      <p className="empty">Not built yet.</p>
    </main>
  );
}
