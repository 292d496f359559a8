import { expect, test } from '@playwright/test';
import { addUser, MASTER_KEY, signIn } from './fixtures';

test('sign in with an API key, use the hydrated shell, stay signed in across a reload, sign out', async ({ page, context }) => {
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => r.status() === 401 && problems.push(`401 from ${r.url()}`));
  const wasm: { name: string; type?: string; encoding?: string }[] = [];
  page.on('response', (r) => {
    const name = new URL(r.url()).pathname;
    if (name.endsWith('.wasm')) wasm.push({ name, type: r.headers()['content-type'], encoding: r.headers()['content-encoding'] });
  });

  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  // The app and the sign-in page's own chunk (and the little ones it shares), all brotli.
  expect(wasm.some((w) => /^\/pkg\/hearth\.[0-9a-f]{12}\.wasm$/.test(w.name))).toBe(true);
  expect(wasm.some((w) => /^\/pkg\/split_login_page\./.test(w.name))).toBe(true);
  for (const w of wasm) expect(w).toMatchObject({ type: 'application/wasm', encoding: 'br' });

  await page.getByLabel('API key').fill(MASTER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('user-name')).toHaveText(/^master-key:[0-9a-f]{12}$/);

  // The API keys page, reached by client-side navigation, works end to end.
  addUser('e2e-member', 'member', 'e2e-password');
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.getByRole('navigation').getByRole('link', { name: 'API keys' }).click();
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.getByText('No API keys yet.')).toBeVisible();
  await page.getByLabel('Name').fill('laptop');
  await page.getByLabel('Owner').fill('e2e-member');
  await page.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByTestId('new-key-value');
  await expect(shown).toHaveText(/^hk-/);
  const key = (await shown.textContent())!;
  await page.getByRole('button', { name: 'Copy' }).click();
  await expect(page.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  const row = page.getByRole('row', { name: /laptop/ });
  await expect(row).toContainText('e2e-member');
  await expect(row).not.toContainText(key);

  // The key works for an outside client, until it is revoked.
  const asKey = await page.request.get('/v1/me', { headers: { Authorization: `Bearer ${key}` } });
  expect((await asKey.json()).name).toBe('e2e-member');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('dialog', { name: 'Revoke the key “laptop”?' }).getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByText('No API keys yet.')).toBeVisible();
  const revoked = await page.request.get('/v1/me', { headers: { Authorization: `Bearer ${key}` }, failOnStatusCode: false });
  expect(revoked.status()).toBe(401);
  problems.splice(0); // that 401 was the point

  // Still signed in after a reload.
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByTestId('user-name')).toHaveText(/^master-key:[0-9a-f]{12}$/);
  await expect(page).toHaveURL(/\/keys$/);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/keys');
  await expect(page).toHaveURL(/\/login\?next=%2Fkeys$/);
  expect(problems).toEqual([]);
});

test('a wrong key is refused on the page, in words', async ({ page }) => {
  await page.goto('/login');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('API key').fill('not-the-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Invalid API Key');
  await expect(page).toHaveURL(/\/login$/);
});

test('a password sign-in works before the wasm has loaded', async ({ browser }) => {
  addUser('e2e-nojs', 'viewer', 'nojs-password');
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill('e2e-nojs');
  await page.getByLabel('Password', { exact: true }).fill('nojs-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('user-name')).toHaveText('e2e-nojs');
  await context.close();
});

test('each page has its own title, whether opened directly or by navigation', async ({ page }) => {
  await page.goto('/login');
  await expect(page).toHaveTitle('Sign in — Hearth');
  await signIn(page);
  await expect(page).toHaveTitle('Overview — Hearth');
  const pages: [string, string][] = [
    ['Chat', 'Chat — Hearth'],
    ['LLMs', 'LLMs — Hearth'],
    ['MCP servers', 'MCP servers — Hearth'],
    ['API keys', 'API keys — Hearth'],
    ['Teams', 'Teams — Hearth'],
    ['Audit', 'Audit — Hearth'],
  ];
  for (const [link, title] of pages) {
    await page.getByRole('navigation').getByRole('link', { name: link }).click();
    await expect(page).toHaveTitle(title);
  }
  await page.goto('/llms');
  await expect(page).toHaveTitle('LLMs — Hearth');
  await page.goto('/no-such-page');
  await expect(page).toHaveTitle('Page not found — Hearth');
  // Inside the app's frame: the navigation is there to go on from.
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await page.getByRole('navigation').getByRole('link', { name: 'Chat' }).click();
  await expect(page).toHaveTitle(/Hearth/);
  await expect(page.getByLabel('Message', { exact: true })).toBeVisible();
});

test('signing in returns to the page asked for, and only to a page on Hearth', async ({ page }) => {
  await page.goto('/llms');
  await expect(page).toHaveURL(/\/login\?next=%2Fllms$/);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('API key').fill(MASTER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/llms$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('LLMs');

  // A link from elsewhere cannot send the user off Hearth after signing in.
  await page.context().clearCookies();
  await page.goto('/login?next=%2F%2Fevil.example%2F');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('API key').fill(MASTER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
});

test('without JavaScript too, a sign-in returns to the page asked for', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/keys');
  await expect(page).toHaveURL(/\/login\?next=%2Fkeys$/);
  await page.getByLabel('API key').fill('wrong key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/login\?error=invalid&next=%2Fkeys$/);
  await page.getByLabel('API key').fill(MASTER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/keys$/);
  await context.close();
});

test('no page says it is empty before its data is known', async ({ browser }) => {
  // Without JavaScript, a page is what the server rendered: what a slow phone shows until the
  // wasm has loaded.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('API key').fill(MASTER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  const empty = /No conversations yet|No MCP servers|No LLMs yet|No LLM is available|No API keys yet|No teams yet|not in any team|No events/;
  for (const path of ['/chat', '/llms', '/mcp-servers', '/keys', '/teams', '/audit']) {
    await page.goto(path);
    await expect(page.locator('main')).toBeVisible();
    expect(await page.locator('body').innerText(), path).not.toMatch(empty);
  }
  await context.close();
});

test('the overview lists the first steps, each with its link, ticked once done', async ({ page }) => {
  await signIn(page);
  const steps = page.getByTestId('checklist').getByRole('listitem');
  await expect(steps).toHaveCount(4);
  await expect(steps.nth(0).getByRole('link')).toHaveAttribute('href', '/llms');
  await expect(steps.nth(1).getByRole('link', { name: 'Open the chat' })).toHaveAttribute('href', '/chat');
  await expect(steps.nth(2).getByRole('link', { name: 'Add an MCP server' })).toHaveAttribute('href', '/mcp-servers');
  await expect(steps.nth(3).getByRole('link', { name: 'Create a key' })).toHaveAttribute('href', '/keys');

  // A step is ticked once it is done: here, a conversation.
  const auth = { authorization: `Bearer ${MASTER_KEY}` };
  const conversations = await (await page.request.get('/v1/conversations', { headers: auth })).json();
  for (const c of conversations.data) await page.request.delete(`/v1/conversations/${c.id}`, { headers: auth });
  await page.reload();
  await expect(steps.nth(1)).toHaveAttribute('data-done', 'false');
  await expect(steps.nth(1)).toContainText('Not done yet.');
  await page.request.post('/v1/conversations', { headers: auth, data: { title: 'First steps' } });
  await page.reload();
  await expect(steps.nth(1)).toHaveAttribute('data-done', 'true');
  await expect(steps.nth(1)).toContainText('Done.');
});
