import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../src/config';

const firebase = { apiKey: 'k', authDomain: 'p.firebaseapp.com', projectId: 'p', appId: '1:2:web:3' };

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
    expect(() => readConfig({ VITE_FIREBASE_CONFIG: '{nope', VITE_API_BASE: 'x' })).toThrow(/not JSON/);
    const { appId: _, ...noApp } = firebase;
    expect(() => readConfig({ VITE_FIREBASE_CONFIG: JSON.stringify(noApp), VITE_API_BASE: 'x' })).toThrow(/"appId"/);
    expect(() => readConfig({ VITE_FIREBASE_CONFIG: JSON.stringify(firebase) })).toThrow(ConfigError);
  });
});
