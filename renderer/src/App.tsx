/** The app: one screen per session phase, under the header (lock button, air-gap warning). */
import { useEffect } from 'react';
import { Header } from './components/Header';
import { CreateVaultScreen } from './components/CreateVaultScreen';
import { ErrorBlock, Loading } from './components/common';
import { Shell } from './components/Shell';
import { Unlocked } from './components/SignIn';
import { UnlockScreen } from './components/UnlockScreen';
import { missingCase } from '../../shared/errors';
import { useSession } from './stores/session';

function Body() {
  const phase = useSession((s) => s.phase);
  const loadError = useSession((s) => s.loadError);
  const init = useSession((s) => s.init);
  switch (phase) {
    case 'loading':
      return (
        <main className="screen narrow" data-screen="loading">
          <h1>Keyhold</h1>
          <Loading label="Starting…" />
        </main>
      );
    case 'error':
      return (
        <main className="screen narrow" data-screen="error">
          <h1>Keyhold could not start</h1>
          {loadError ? (
            <ErrorBlock error={loadError} title="The app could not reach its vault service">
              <button type="button" className="button" onClick={() => void init()}>
                Try again
              </button>
            </ErrorBlock>
          ) : null}
        </main>
      );
    case 'no-vault':
      return <CreateVaultScreen />;
    case 'locked':
      return <UnlockScreen />;
    case 'unlocked':
      return (
        <Unlocked>
          <Shell />
        </Unlocked>
      );
    default:
      return missingCase(phase);
  }
}

export function App() {
  useEffect(function connect() {
    const session = useSession.getState();
    const unsubscribe = session.subscribe();
    void session.init();
    return unsubscribe;
  }, []);
  return (
    <>
      <Header />
      <Body />
    </>
  );
}
