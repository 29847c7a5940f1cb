import { describe, expect, it } from 'vitest';
import { ConfigError, type FetchJson, HOSTING_FIREBASE_URL, RUNTIME_CONFIG_URL, loadConfig, readConfig } from '../src/config';

const firebase = { apiKey: 'k', authDomain: 'p.firebaseapp.com', projectId: 'p', appId: '1:2:web:3' };

/** A server that answers `files` as JSON, `html` paths with the SPA's index page, and 404 otherwise. */
function serving(files: Record<string, string>, html: string[] = []): { fetch: FetchJson; asked: string[] } {
  const asked: string[] = [];
  const fetch: FetchJson = async (url) => {
    asked.push(url);
    const json = url in files;
    const page = html.includes(url);
    return {
      ok: json || page,
      status: json || page ? 200 : 404,
      headers: { get: (name) => (name.toLowerCase() === 'content-type' ? (json ? 'application/json' : 'text/html') : null) },
      text: async () => files[url] ?? '<!doctype html><html></html>',
    };
  };
  return { fetch, asked };
}

describe('readConfig', () => {
  it('runs in local mode on the same origin by default', () => {
    expect(readConfig({})).toEqual({ mode: 'local', apiBase: '' });
  });

  it('runs in Firebase mode with a web config and an API URL', () => {
    const config = readConfig({
      VITE_FIREBASE_CONFIG: JSON.stringify(firebase),
      VITE_API_BASE: 'https://api.example.run.app/',
    });
    expect(config.mode).toBe('firebase');
    expect(config.apiBase).toBe('https://api.example.run.app');
  });

  it('names what is wrong with a bad build config', () => {
    expect(() => readConfig({ VITE_FIREBASE_CONFIG: '{nope', VITE_API_BASE: 'https://x' })).toThrow(/not JSON/);
    const { appId: _, ...noApp } = firebase;
    expect(() => readConfig({ VITE_FIREBASE_CONFIG: JSON.stringify(noApp), VITE_API_BASE: 'https://x' })).toThrow(/"appId"/);
    expect(() => readConfig({ VITE_FIREBASE_CONFIG: JSON.stringify(firebase) })).toThrow(ConfigError);
    expect(() => readConfig({ VITE_API_BASE: 'api.example.com' })).toThrow(/VITE_API_BASE must be a URL/);
  });
});

describe('loadConfig', () => {
  it('keeps the build-time values when the hosting serves no /config.json', async () => {
    const { fetch, asked } = serving({});
    const config = await loadConfig({ VITE_API_BASE: 'https://build.example', VITE_FIREBASE_CONFIG: JSON.stringify(firebase) }, fetch);
    expect(config).toEqual({ mode: 'firebase', apiBase: 'https://build.example', firebase });
    expect(asked).toEqual([RUNTIME_CONFIG_URL]);
  });

  it('lets /config.json override the API address of the build', async () => {
    const { fetch } = serving({ [RUNTIME_CONFIG_URL]: JSON.stringify({ apiBase: 'https://api.custom.example/' }) });
    const config = await loadConfig({ VITE_API_BASE: 'https://build.example', VITE_FIREBASE_CONFIG: JSON.stringify(firebase) }, fetch);
    expect(config.apiBase).toBe('https://api.custom.example');
    expect(config.mode).toBe('firebase');
  });

  it('takes the Firebase config from /config.json, then from Firebase Hosting', async () => {
    const runtime = serving({ [RUNTIME_CONFIG_URL]: JSON.stringify({ apiBase: 'https://api.example', firebase }) });
    expect(await loadConfig({}, runtime.fetch)).toEqual({ mode: 'firebase', apiBase: 'https://api.example', firebase });

    const hosting = serving({ [HOSTING_FIREBASE_URL]: JSON.stringify({ ...firebase, projectId: 'hosted' }) });
    const config = await loadConfig({ VITE_API_BASE: 'https://api.example' }, hosting.fetch);
    expect(config.mode === 'firebase' && config.firebase.projectId).toBe('hosted');
    expect(hosting.asked).toEqual([RUNTIME_CONFIG_URL, HOSTING_FIREBASE_URL]);
  });

  it('stays local on the embedded stack and behind a dev server that answers every path with the SPA', async () => {
    const dev = serving({}, [RUNTIME_CONFIG_URL, HOSTING_FIREBASE_URL]);
    expect(await loadConfig({}, dev.fetch)).toEqual({ mode: 'local', apiBase: '' });
    expect(dev.asked).toEqual([RUNTIME_CONFIG_URL]); // same origin: no Firebase config is looked for
  });

  it('names a broken /config.json', async () => {
    await expect(loadConfig({}, serving({ [RUNTIME_CONFIG_URL]: '{"apiBase": ' }).fetch)).rejects.toThrow(/config\.json is not JSON/);
    await expect(loadConfig({}, serving({ [RUNTIME_CONFIG_URL]: '["x"]' }).fetch)).rejects.toThrow(/must be a JSON object/);
    await expect(loadConfig({}, serving({ [RUNTIME_CONFIG_URL]: '{"apiBase": 3}' }).fetch)).rejects.toThrow(/"apiBase" must be a string/);
  });
});
