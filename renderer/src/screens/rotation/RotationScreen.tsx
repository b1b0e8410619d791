/** Rotation: placeholder until the screen lands (issue 11). */
import { ScreenTitle } from '../../components/common';

export function RotationScreen() {
  return (
    <main className="screen wide" data-screen="rotation">
      <div className="screen-head">
        <ScreenTitle>Rotation</ScreenTitle>
      </div>
      <p className="empty">Not built yet.</p>
    </main>
  );
}
