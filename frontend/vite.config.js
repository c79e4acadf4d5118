import { defineConfig } from 'vite';

/**
 * Percent-encodes "(" and ")" inside the data: URLs of the built CSS. Geoman's inline SVG icons
 * contain parentheses (a "(67469)" comment, nested url(#gradient) references), and Django's
 * ManifestStaticFilesStorage finds url(...) with a pattern that ends at the first ")": it would
 * take the rest of an icon for a file reference and rewrite it, leaving a broken image.
 * Browsers percent-decode data: URLs, so the icons themselves are unchanged.
 *
 * @returns {import('vite').Plugin}
 */
function encodeParenthesesInCssDataUrls() {
  const dataUrl = /url\((["'])(data:(?:\\.|(?!\1)[^\\])*)\1\)/g;
  const encode = (data) => data.replaceAll('(', '%28').replaceAll(')', '%29');
  return {
    name: 'tracker:encode-parentheses-in-css-data-urls',
    // After Vite's own CSS plugin, which adds app.css to the bundle in this same hook.
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type === 'asset' && file.fileName.endsWith('.css')) {
          file.source = String(file.source).replace(dataUrl, (_match, quote, data) => `url(${quote}${encode(data)}${quote})`);
        }
      }
    },
  };
}

/**
 * Builds the two page entries into dist/tracker/ with stable, unhashed names:
 * Django's ManifestStaticFilesStorage adds the content hashes at collectstatic time,
 * so hashing here too would only produce doubly hashed names the templates cannot know.
 */
export default defineConfig({
  // Relative asset URLs inside app.css, so they resolve under STATIC_URL and
  // ManifestStaticFilesStorage can rewrite them to their hashed names.
  base: './',
  plugins: [encodeParenthesesInCssDataUrls()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One stylesheet for both pages: the templates link a single tracker/app.css.
    cssCodeSplit: false,
    // Inlined data: URLs would be blocked by a strict img-src CSP and bypass the manifest.
    assetsInlineLimit: 0,
    // The preload polyfill only serves HTML entries; the pages load plain module scripts.
    modulePreload: false,
    sourcemap: true,
    rollupOptions: {
      input: {
        dashboard: 'src/dashboard.js',
        report: 'src/report.js',
      },
      output: {
        entryFileNames: 'tracker/[name].js',
        // Code both pages use (Leaflet, API client, form helpers) goes to one predictably named
        // chunk, tracker/shared.js; page-only code such as geoman stays in its entry file.
        codeSplitting: { groups: [{ name: 'shared', minShareCount: 2 }] },
        chunkFileNames: 'tracker/[name].js',
        // The single stylesheet is named after the file the entries import (src/styles/app.css);
        // the bundler itself would call it style.css.
        assetFileNames: (asset) =>
          asset.names.some((name) => name.endsWith('.css')) ? 'tracker/app.css' : 'tracker/[name][extname]',
      },
    },
  },
  test: {
    include: ['tests/**/*.test.js'],
    environment: 'node',
  },
});
