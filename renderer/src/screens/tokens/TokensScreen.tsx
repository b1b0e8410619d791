/** Tokens: placeholder until the screen lands (issue 11). */
import { ScreenTitle } from '../../components/common';

export function TokensScreen() {
  return (
    <main className="screen wide" data-screen="tokens">
      <div className="screen-head">
        <ScreenTitle>Tokens</ScreenTitle>
      </div>
      <p className="empty">Not built yet.</p>
    </main>
  );
}
