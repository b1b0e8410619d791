export function App() {
  return (
    <main className="app">
      <h1>Keyhold</h1>
      <p>Offline custody of API keys. The vault screens arrive with the desktop shell; use the `keyhold` CLI meanwhile.</p>
    </main>
  );
}
