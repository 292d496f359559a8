import { expect, type Page, test } from '@playwright/test';
import { MASTER_KEY, signIn, watchForErrors } from './fixtures';
import { startEverything, startGuarded } from './mcp-peers';

async function signInToMcpServers(page: Page) {
  await signIn(page);
  await page.getByRole('navigation').getByRole('link', { name: 'MCP servers' }).click();
  await expect(page).toHaveURL(/\/mcp-servers$/);
}

async function addServer(page: Page, fields: { name: string; url: string; token?: string; proxy: boolean }) {
  await page.getByRole('button', { name: 'Add MCP server' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Name').fill(fields.name);
  await dialog.getByLabel('Server URL').fill(fields.url);
  if (fields.token) await dialog.getByLabel('Authorization').fill(fields.token);
  await dialog.getByLabel('Use proxy').setChecked(fields.proxy);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
  return page.getByTestId('mcp-server').filter({ hasText: fields.name });
}

test('the everything server, through the proxy: connected, its tools listed, no 401 anywhere', async ({ page }) => {
  const everything = await startEverything();
  const problems = watchForErrors(page);
  const unauthorized: string[] = [];
  page.on('response', (r) => r.status() === 401 && unauthorized.push(r.url()));
  try {
    await signInToMcpServers(page);
    const card = await addServer(page, { name: 'Everything', url: everything.url, proxy: true });
    await expect(card.getByTestId('mcp-status')).toHaveText('disconnected');

    const started = Date.now();
    await card.getByRole('button', { name: 'Connect' }).click();
    const tools = card.getByTestId('mcp-tools');
    await expect(tools.getByText('echo', { exact: true })).toBeVisible();
    const elapsed = Date.now() - started;
    console.log(`Connect → tools listed (everything, through /cors-proxy): ${elapsed} ms`);
    await expect(tools.getByText('get-sum', { exact: true })).toBeVisible();
    await expect(card.getByTestId('mcp-status')).toHaveText('connected');
    await expect(card.getByRole('button', { name: 'Disconnect' })).toBeVisible();

    // A tool switch is stored on Hearth: it survives a reload and a reconnect.
    await card.getByRole('switch', { name: 'Enable echo' }).uncheck();
    const stored = async () => {
      const list = await (await page.request.get('/v1/me/mcp-servers')).json();
      return list.data.find((s: { name: string }) => s.name === 'Everything')?.tools;
    };
    await expect.poll(stored).toEqual({ echo: false });
    await page.reload();
    const again = page.getByTestId('mcp-server').filter({ hasText: 'Everything' });
    await again.getByRole('button', { name: 'Connect' }).click();
    await expect(again.getByRole('switch', { name: 'Enable echo' })).not.toBeChecked();
    await expect(again.getByRole('switch', { name: 'Enable get-sum' })).toBeChecked();

    // So is a tool's approval for chat.
    await again.getByLabel('Approval for get-sum').selectOption('always');
    const approvals = async () => {
      const list = await (await page.request.get('/v1/me/mcp-servers')).json();
      return list.data.find((s: { name: string }) => s.name === 'Everything')?.approvals;
    };
    await expect.poll(approvals).toEqual({ 'get-sum': 'always' });
    await page.reload();
    const third = page.getByTestId('mcp-server').filter({ hasText: 'Everything' });
    await third.getByRole('button', { name: 'Connect' }).click();
    await expect(third.getByLabel('Approval for get-sum')).toHaveValue('always');
    await expect(third.getByLabel('Approval for echo')).toHaveValue('ask');

    // The connection log shows the exchange.
    await third.getByText(/Connection log/).click();
    await expect(third.locator('.log')).toContainText('initialize');
    expect(unauthorized).toEqual([]);
    expect(problems).toEqual([]);
  } finally {
    await everything.stop();
  }
});

test("a server that needs its own token connects once it is entered, and never sees Hearth's credentials", async ({ page, context }) => {
  const token = 'guarded-token-7d1c';
  const guarded = await startGuarded(token);
  const problems = watchForErrors(page);
  try {
    await signInToMcpServers(page);
    const card = await addServer(page, { name: 'Guarded', url: guarded.url, proxy: true });
    await card.getByRole('button', { name: 'Connect' }).click();
    // The server's refusal is told apart from Hearth's own.
    await expect(card.getByTestId('mcp-error')).toContainText('rejected the credentials');
    await expect(card.getByTestId('mcp-error')).not.toContainText('sign in');

    await card.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('dialog').getByLabel('Authorization').fill(token);
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await expect(page.getByRole('dialog')).toBeHidden();
    const saved = page.getByTestId('mcp-server').filter({ hasText: 'Guarded' });
    await saved.getByRole('button', { name: 'Connect' }).click();
    await expect(saved.getByTestId('mcp-tools').getByText('whoami', { exact: true })).toBeVisible();
    await expect(saved.getByTestId('mcp-status')).toHaveText('connected');

    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'hearth_session');
    expect(session).toBeDefined();
    expect(guarded.received.length).toBeGreaterThan(2);
    const recorded = JSON.stringify(guarded.received);
    expect(recorded).toContain(`Bearer ${token}`);
    for (const secret of [MASTER_KEY, session!.value, 'hearth_session']) {
      expect(recorded).not.toContain(secret);
    }
    for (const headers of guarded.received) {
      expect(headers.cookie).toBeUndefined();
      expect(headers['x-api-key']).toBeUndefined();
    }
    expect(problems).toEqual([]);
  } finally {
    await guarded.stop();
  }
});

test('without the proxy, a server that sends no CORS headers fails with advice to turn the proxy on', async ({ page }) => {
  const token = 'guarded-token-direct';
  const guarded = await startGuarded(token);
  try {
    await signInToMcpServers(page);
    const card = await addServer(page, { name: 'No CORS', url: guarded.url, token, proxy: false });
    await card.getByRole('button', { name: 'Connect' }).click();
    await expect(card.getByTestId('mcp-status')).toHaveText('failed');
    await expect(card.getByTestId('mcp-error')).toContainText('Use proxy');

    // Taking the advice works.
    await card.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('dialog').getByLabel('Use proxy').check();
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    const proxied = page.getByTestId('mcp-server').filter({ hasText: 'No CORS' });
    await proxied.getByRole('button', { name: 'Connect' }).click();
    await expect(proxied.getByTestId('mcp-status')).toHaveText('connected');
  } finally {
    await guarded.stop();
  }
});
