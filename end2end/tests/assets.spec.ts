import { expect, test } from '@playwright/test';

// The server under test runs from a directory holding nothing but the binary
// (start-hearth.sh), so everything here comes out of the binary itself.
test("the build's files are embedded, compressed, typed and cached by content hash", async ({ page, request }) => {
  await page.goto('/login');
  const js = await page.locator('link[rel="modulepreload"][href^="/pkg/hearth."]').getAttribute('href');
  const wasm = await page.locator('link[rel="preload"][as="fetch"][href^="/pkg/hearth."]').getAttribute('href');
  const css = await page.locator('link[rel="stylesheet"]').getAttribute('href');
  const files: [string | null, RegExp][] = [
    [js, /javascript/],
    [wasm, /^application\/wasm$/],
    [css, /^text\/css/],
  ];
  for (const [url, type] of files) {
    expect(url).toMatch(/^\/pkg\/hearth\.[0-9a-f]{12}(_bg)?\.(js|wasm|css)$/);
    for (const encoding of ['br', 'gzip']) {
      const response = await request.get(url!, { headers: { 'accept-encoding': encoding } });
      expect(response.status(), `${url} ${encoding}`).toBe(200);
      expect(response.headers()['content-type']).toMatch(type);
      expect(response.headers()['content-encoding']).toBe(encoding);
      expect(response.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(response.headers()['vary']).toBe('Accept-Encoding');
      const again = await request.get(url!, {
        headers: { 'accept-encoding': encoding, 'if-none-match': response.headers()['etag'] },
      });
      expect(again.status()).toBe(304);
    }
  }

  const favicon = await request.get('/favicon.ico');
  expect(favicon.status()).toBe(200);
  expect(favicon.headers()['content-type']).toMatch(/icon/);
  expect(favicon.headers()['cache-control']).toBe('no-cache');

  const missing = await request.get('/pkg/hearth.000000000000.js', { failOnStatusCode: false });
  expect(missing.status()).toBe(404);
});
