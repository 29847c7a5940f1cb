/** Entry point: read the build's and the host's configuration, then render the app (or say what is
 * wrong with the configuration). */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ConfigError, loadConfig } from './config';
import './styles.css';

const root = createRoot(document.getElementById('root') as HTMLElement);

async function start(): Promise<void> {
  try {
    const config = await loadConfig(import.meta.env);
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    );
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    root.render(<p role="alert">This build is misconfigured: {e.message}</p>);
  }
}

void start();
