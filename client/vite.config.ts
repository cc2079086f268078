import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/**
 * Writes `name.gz` beside every asset worth compressing; the node serves it
 * to browsers that accept gzip (server/http/client-pages.ts). Compressing
 * once at build time beats compressing Monaco on every request.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'duet-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    writeBundle() {
      const assets = join(outDir, 'assets');
      for (const name of readdirSync(assets)) {
        const file = join(assets, name);
        if (!/\.(js|css|ttf|svg|json)$/.test(name) || statSync(file).size < 1024) continue;
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
      }
    },
  };
}

/** The node the dev server forwards the API and Socket.IO to (`npm run dev` starts it on 3000). */
const nodeUrl = process.env.DUET_NODE_URL ?? 'http://localhost:3000';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [precompress()],
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
