import { defineConfig } from 'vite';

// Built into the API's static files; hashed names under /assets/ are cached for good, index.html never.
export default defineConfig({
  base: '/',
  build: {
    outDir: '../Presentation.Api/wwwroot',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Keep the CSS in its own file: the Content-Security-Policy allows no inline style or script.
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': { target: 'http://127.0.0.1:5080', ws: true } },
  },
});
