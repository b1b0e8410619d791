/** Audit: placeholder until the screen lands (issue 11). */
import { ScreenTitle } from '../../components/common';

export function AuditScreen() {
  return (
    <main className="screen wide" data-screen="audit">
      <div className="screen-head">
        <ScreenTitle>Audit</ScreenTitle>
      </div>
      <p className="empty">Not built yet.</p>
    </main>
  );
}
