/** Entry point: read the build's mode, then render the app (or say what is wrong with the build). */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ConfigError, readConfig } from './config';
import './styles.css';

const root = createRoot(document.getElementById('root') as HTMLElement);
try {
  const config = readConfig(import.meta.env);
  root.render(
    <StrictMode>
      <App config={config} />
    </StrictMode>,
  );
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  root.render(<p role="alert">This build is misconfigured: {e.message}</p>);
}
