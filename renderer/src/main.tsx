import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { applyTheme, savedTheme } from './stores/settings';
import './styles.css';

// The theme chosen in Settings (this workstation's, in localStorage) before the first paint.
applyTheme(savedTheme());

const root = document.getElementById('root');
if (!root) throw new Error('renderer: #root is missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
