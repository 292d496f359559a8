import { expect, type Page, test } from '@playwright/test';
import { MASTER_KEY, addUser, signIn, watchForErrors } from './fixtures';
import { startEverything } from './mcp-peers';

async function signInAs(page: Page, name: string, password: string) {
  await page.goto('/login');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

test('an admin shares server-everything with one member, who sees it with its status and the allowed tools only', async ({ browser, page }) => {
  try {
    addUser('shared-sam', 'member', 'shared-sam-password');
  } catch {
    // Already there from an earlier run against the same data.
  }
  const everything = await startEverything();
  const problems = watchForErrors(page);
  try {
    await signIn(page);
    await page.getByRole('navigation').getByRole('link', { name: 'MCP servers' }).click();
    const shared = page.getByTestId('shared-servers');
    await shared.getByRole('button', { name: 'Add shared server' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('e2e-everything');
    await dialog.getByLabel('Server URL').fill(everything.url);

    // Test connection lists every tool before anything is saved; one is switched off.
    await dialog.getByRole('button', { name: 'Test connection' }).click();
    const tested = dialog.getByTestId('shared-test');
    await expect(tested).toContainText('ok');
    await expect(tested.getByRole('switch', { name: 'echo' })).toBeChecked();
    await tested.getByRole('switch', { name: 'get-env' }).uncheck();

    // Granted to one member, not to all.
    await dialog.getByLabel('All members').uncheck();
    await dialog.getByRole('group', { name: 'Users' }).getByLabel('shared-sam').check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    const row = shared.getByTestId('shared-row').filter({ hasText: 'e2e-everything' });
    await expect(row).toContainText('shared-sam');
    await expect(row.getByTestId('shared-status')).toHaveText('ok');

    // Its configuration keeps the switch: edit shows the tool off after a new test.
    await row.getByRole('button', { name: 'Edit' }).click();
    await dialog.getByRole('button', { name: 'Test connection' }).click();
    await expect(dialog.getByTestId('shared-test').getByRole('switch', { name: 'get-env' })).not.toBeChecked();
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // The member sees it, its status and the allowed tools, and nothing of its configuration.
    const context = await browser.newContext();
    const member = await context.newPage();
    const memberProblems = watchForErrors(member);
    await signInAs(member, 'shared-sam', 'shared-sam-password');
    await member.getByRole('navigation').getByRole('link', { name: 'MCP servers' }).click();
    const seen = member.getByTestId('shared-servers').getByTestId('shared-row').filter({ hasText: 'e2e-everything' });
    await expect(seen.getByTestId('shared-status')).toHaveText('ok');
    // The tools arrive on their own: the count says when.
    const summary = seen.locator('summary', { hasText: / tools$/ });
    await expect(summary).toHaveText(/^[1-9]\d* tools$/);
    await summary.click();
    const tools = seen.getByTestId('shared-tools');
    await expect(tools).toContainText('echo');
    await expect(tools).not.toContainText('get-env');
    await expect(member.getByTestId('shared-servers')).not.toContainText(everything.url);

    // "Connect a client": Hearth's own /mcp address, and configurations to copy with the key
    // left as a placeholder.
    const connect = member.getByTestId('connect-client');
    await connect.locator('summary').click();
    const origin = new URL(member.url()).origin;
    await expect(connect.getByTestId('mcp-url')).toHaveText(`${origin}/mcp`);
    const snippets = connect.getByTestId('client-snippet');
    await expect(snippets).toHaveCount(4);
    await expect(snippets.nth(0)).toContainText(`claude mcp add --transport http hearth ${origin}/mcp`);
    await expect(snippets.nth(0)).toContainText('Bearer $HEARTH_API_KEY');
    await expect(connect).toContainText('"url": "' + origin + '/mcp"');
    expect(memberProblems).toEqual([]);
    await context.close();
    expect(problems).toEqual([]);
  } finally {
    await page.request.delete('/v1/mcp/servers/e2e-everything', { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    await everything.stop();
  }
});
