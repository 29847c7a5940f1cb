import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The SPA is served from `/` by the embedded stack (api/main.py mounts web/dist) and by Firebase
// Hosting. In development, `vite` proxies the API to a running embedded stack (VITE_DEV_API).
export default defineConfig({
  plugins: [react()],
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/v1': process.env.VITE_DEV_API ?? 'http://127.0.0.1:8000',
      '/healthz': process.env.VITE_DEV_API ?? 'http://127.0.0.1:8000',
    },
  },
});
