import { defineConfig } from 'vite';

/** The node the dev server forwards the API and Socket.IO to (`npm run dev` starts it on 3000). */
const nodeUrl = process.env.DUET_NODE_URL ?? 'http://localhost:3000';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  resolve: {
    // y-monaco imports monaco-editor/esm/vs/..., which monaco ≥ 0.56's exports map
    // no longer resolves; point it at the exported path (GOTCHAS 1).
    alias: [{ find: /^monaco-editor\/esm\/vs\//, replacement: 'monaco-editor/' }],
  },
  build: {
    outDir: '../dist/client',
    emptyOutDir: true,
    target: 'es2022',
    // Monaco is one big chunk no matter how it is split; warn only past it.
    chunkSizeWarningLimit: 4000,
    reportCompressedSize: false,
  },
  worker: { format: 'es' },
  server: {
    port: 5173,
    proxy: {
      '/api': nodeUrl,
      '/healthz': nodeUrl,
      '/socket.io': { target: nodeUrl, ws: true },
    },
  },
});
