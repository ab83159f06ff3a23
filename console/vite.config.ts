/**
 * Build of the web console: `npm run build:console` writes dist/console/
 * (index.html + assets/), which the Sentinel's HTTP server serves at / and
 * /assets/*. JSX goes through esbuild's automatic runtime with Preact, so no
 * Babel plugin is needed.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  // Relative asset URLs: the page works wherever the Sentinel (or a proxy) mounts it.
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: true,
    chunkSizeWarningLimit: 400,
  },
});
