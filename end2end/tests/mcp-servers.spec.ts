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

test('tool settings show without a connection, one row per tool, and chat respects a Disconnect', async ({ page }) => {
  const everything = await startEverything();
  const problems = watchForErrors(page);
  const stored = async () => {
    const list = await (await page.request.get('/v1/me/mcp-servers')).json();
    return list.data.find((s: { name: string }) => s.name === 'Compact');
  };
  try {
    await signInToMcpServers(page);
    let card = await addServer(page, { name: 'Compact', url: everything.url, proxy: true });
    await card.getByRole('button', { name: 'Connect' }).click();
    await expect(card.getByTestId('mcp-status')).toHaveText('connected');
    const count = card.getByTestId('tools-count');
    await expect(count).toHaveText(/^(\d+) of \1 on$/);
    const total = Number((await count.textContent())!.split(' ')[0]);
    expect(total).toBeGreaterThan(5);
    // The list is kept on Hearth as the server gave it.
    await expect.poll(async () => (await stored())?.known_tools?.length).toBe(total);

    // One line per tool; a description opens in full on a click.
    const rows = card.getByTestId('mcp-tools').locator('li');
    await expect(rows).toHaveCount(total);
    const heights = await rows.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    expect(Math.max(...heights)).toBeLessThan(48);
    const echo = rows.filter({ has: page.getByRole('switch', { name: 'Enable echo', exact: true }) });
    const description = echo.getByRole('button');
    await expect(description).toHaveAttribute('aria-expanded', 'false');
    await description.click();
    await expect(description).toHaveAttribute('aria-expanded', 'true');

    // A tool switched off cannot be set to run without asking.
    await echo.getByRole('switch').uncheck();
    await expect(echo.getByLabel('Approval for echo')).toBeDisabled();
    await expect(count).toHaveText(`${total - 1} of ${total} on`);
    // The filter narrows the list, and "All off" switches off what it shows.
    const filter = card.getByRole('searchbox', { name: 'Filter tools' });
    await filter.fill('get-sum');
    await expect(rows).toHaveCount(1);
    await card.getByRole('button', { name: 'All off' }).click();
    await expect(count).toHaveText(`${total - 2} of ${total} on`);
    await filter.fill('');
    await expect(rows).toHaveCount(total);
    await expect.poll(async () => (await stored())?.tools).toEqual({ echo: false, 'get-sum': false });
    await card.getByRole('button', { name: 'All on' }).click();
    await expect(count).toHaveText(`${total} of ${total} on`);
    await card.getByRole('switch', { name: 'Enable echo', exact: true }).uncheck();
    await expect.poll(async () => (await stored())?.tools?.echo).toBe(false);

    // After a reload, not connected: the settings are there all the same, and work.
    await page.reload();
    card = page.getByTestId('mcp-server').filter({ hasText: 'Compact' });
    await expect(card.getByTestId('mcp-status')).toHaveText('disconnected');
    await expect(card).toContainText('As the server listed them when last connected');
    await expect(card.getByTestId('mcp-tools').locator('li')).toHaveCount(total);
    await expect(card.getByRole('switch', { name: 'Enable echo', exact: true })).not.toBeChecked();
    await card.getByLabel('Approval for get-sum').selectOption('always');
    await expect.poll(async () => (await stored())?.approvals).toEqual({ 'get-sum': 'always' });

    // Disconnected by the user: chat leaves it so.
    await card.getByRole('button', { name: 'Connect' }).click();
    await expect(card.getByTestId('mcp-status')).toHaveText('connected');
    await card.getByRole('button', { name: 'Disconnect' }).click();
    await expect.poll(async () => (await stored())?.auto_connect).toBe(false);
    await page.goto('/chat');
    await expect(page.getByTestId('chat-tools')).toContainText('Compact: not connected');
    await page.waitForTimeout(1_500);
    await expect(page.getByTestId('chat-tools')).toContainText('Compact: not connected');

    // Connected again: chat connects it on its own once more.
    await page.goto('/mcp-servers');
    card = page.getByTestId('mcp-server').filter({ hasText: 'Compact' });
    await card.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(async () => (await stored())?.auto_connect).toBe(true);
    await page.goto('/chat');
    await expect(page.getByTestId('chat-tools')).toContainText(`Compact: ${total - 1} tools`);
    expect(problems).toEqual([]);
  } finally {
    const server = await stored();
    if (server) await page.request.delete(`/v1/me/mcp-servers/${server.id}`);
    await everything.stop();
  }
});
