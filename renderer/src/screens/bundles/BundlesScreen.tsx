/** Bundles: placeholder until the screen lands (issue 11). */
import { ScreenTitle } from '../../components/common';

export function BundlesScreen() {
  return (
    <main className="screen wide" data-screen="bundles">
      <div className="screen-head">
        <ScreenTitle>Bundles</ScreenTitle>
      </div>
      <p className="empty">Not built yet.</p>
    </main>
  );
}
