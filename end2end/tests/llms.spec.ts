import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, type Page, test } from '@playwright/test';
import { MASTER_KEY, signIn } from './fixtures';

/** A fake OpenAI-compatible provider on loopback that accepts only `sk-good` and offers two models. */
async function startProvider(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const good = req.headers.authorization === 'Bearer sk-good';
    res.setHeader('content-type', 'application/json');
    if (!good) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided' } }));
      return;
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'm-large', object: 'model' }, { id: 'm', object: 'model' }] }));
      return;
    }
    res.end(JSON.stringify({
      id: 'c', object: 'chat.completion', created: 1, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function fillLlm(page: Page, fields: { name: string; url: string; key: string }) {
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Provider', { exact: true }).selectOption('openai-compatible');
  await dialog.getByLabel('Name', { exact: true }).fill(fields.name);
  await dialog.getByLabel('Upstream model').fill('m');
  await dialog.getByLabel('Base URL').fill(fields.url);
  await dialog.getByLabel('API key', { exact: true }).fill(fields.key);
  return dialog;
}

test('an admin adds LLMs, is told what the provider said of the key, and sees the calls in the audit', async ({ page }) => {
  const provider = await startProvider();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  try {
    await signIn(page);
    await page.getByRole('navigation').getByRole('link', { name: 'LLMs' }).click();
    await expect(page).toHaveURL(/\/llms$/);

    // A rejected key blocks the save, in words, and nothing is added.
    await page.getByRole('button', { name: 'Add LLM' }).click();
    const dialog = await fillLlm(page, { name: 'e2e-chat', url: provider.url, key: 'sk-bad' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog.getByRole('alert')).toContainText('The provider rejected this key (401)');
    // Beside the key, and tied to it.
    const keyField = dialog.getByLabel('API key', { exact: true });
    await expect(keyField).toHaveAttribute('aria-invalid', 'true');
    await expect(keyField).toHaveAccessibleDescription(/The provider rejected this key \(401\)/);
    await expect(page.getByTestId('llm-row')).toHaveCount(0);

    // The right key saves it.
    await dialog.getByLabel('API key', { exact: true }).fill('sk-good');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status')).toContainText('The provider accepted the key');
    await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-chat' })).toContainText('all members');

    // An unreachable provider saves anyway, with a warning.
    await page.getByRole('button', { name: 'Add LLM' }).click();
    const offline = await fillLlm(page, { name: 'e2e-offline', url: 'http://127.0.0.1:9', key: 'sk-good' });
    await offline.getByRole('button', { name: 'Save' }).click();
    // The dialog (with a status of its own) closes first: until then, two statuses are shown.
    await expect(offline).toBeHidden();
    await expect(page.getByRole('status')).toContainText('Could not reach the provider');
    await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-offline' })).toBeVisible();

    // A call through the gateway shows up in the audit trail, without its prompt.
    const answer = await page.request.post('/v1/chat/completions', {
      headers: { authorization: `Bearer ${MASTER_KEY}` },
      data: { model: 'e2e-chat', messages: [{ role: 'user', content: 'a secret prompt' }] },
    });
    expect(answer.status()).toBe(200);
    await page.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
    await expect(page).toHaveURL(/\/audit$/);
    const row = page.getByTestId('audit-row').filter({ hasText: 'e2e-chat' }).first();
    // Events are written in batches within a quarter second: filter again until it is there.
    await expect(async () => {
      await page.getByRole('button', { name: 'Filter' }).click();
      await expect(row).toContainText('200 ok', { timeout: 1_000 });
    }).toPass();
    await expect(row).toContainText('3 → 1');
    await expect(page.locator('body')).not.toContainText('a secret prompt');

    // Delete, after confirming.
    await page.getByRole('navigation').getByRole('link', { name: 'LLMs' }).click();
    await page.getByTestId('llm-row').filter({ hasText: 'e2e-offline' }).getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete the LLM “e2e-offline”?' });
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await expect(confirm).toBeHidden();
    await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-offline' })).toHaveCount(0);
    expect(problems).toEqual([]);
  } finally {
    await provider.stop();
  }
});

test('dialogs are modal: focus moves in and stays, Escape closes, focus returns to the opener', async ({ page }) => {
  await signIn(page);
  await page.goto('/llms');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  const opener = page.getByRole('button', { name: 'Add LLM' });
  await opener.click();
  const dialog = page.getByRole('dialog', { name: 'Add LLM' });
  await expect(dialog).toBeVisible();
  const inDialog = () => page.evaluate(() => !!document.activeElement?.closest('dialog[open]'));
  expect(await inDialog()).toBe(true);
  // Shift+Tab from the first control wraps to the last, Tab from the last to the first.
  await dialog.getByLabel('Provider', { exact: true }).focus();
  await page.keyboard.press('Shift+Tab');
  await expect(dialog.getByRole('button', { name: 'Save' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(dialog.getByLabel('Provider', { exact: true })).toBeFocused();
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Tab');
    expect(await inDialog(), `focus left the dialog after ${i + 1} Tabs`).toBe(true);
  }
  // The page behind cannot be reached.
  expect(await page.evaluate(() => document.querySelector('dialog[open]')?.matches(':modal'))).toBe(true);
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();

  // The same for a confirmation, opened from a row: Cancel puts focus back on that row's button.
  const created = await page.request.post('/v1/llms', {
    headers: { authorization: `Bearer ${MASTER_KEY}` },
    data: { name: 'e2e-dialog', provider: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', model: 'm', grants: { all_members: true, users: [], teams: [] } },
    params: { skip_auth_check: 'true' },
  });
  expect(created.status()).toBe(201);
  await page.reload();
  const remove = page.getByTestId('llm-row').filter({ hasText: 'e2e-dialog' }).getByRole('button', { name: 'Delete' });
  await remove.click();
  const confirm = page.getByRole('dialog', { name: 'Delete the LLM “e2e-dialog”?' });
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toBeHidden();
  await expect(remove).toBeFocused();
  await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-dialog' })).toBeVisible();
  await page.request.delete('/v1/llms/e2e-dialog', { headers: { authorization: `Bearer ${MASTER_KEY}` } });
});

test('adding an LLM offers the provider\'s models, and each LLM shows its last check with a Check button', async ({ page }) => {
  const provider = await startProvider();
  const auth = { authorization: `Bearer ${MASTER_KEY}` };
  try {
    await signIn(page);
    await page.goto('/llms');
    await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
    await page.getByRole('button', { name: 'Add LLM' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add LLM' });
    await dialog.getByLabel('Provider', { exact: true }).selectOption('openai-compatible');
    await dialog.getByLabel('Base URL').fill(provider.url);

    // A wrong key is said, beside the button; the right one lists the models to pick from.
    await dialog.getByLabel('API key', { exact: true }).fill('sk-bad');
    await dialog.getByRole('button', { name: 'Check and list models' }).click();
    await expect(dialog.getByRole('status')).toHaveText('The provider rejected this key (401).');
    await dialog.getByLabel('API key', { exact: true }).fill('sk-good');
    await dialog.getByRole('button', { name: 'Check and list models' }).click();
    await expect(dialog.getByRole('status')).toHaveText('The provider accepted the key. It offers 2 models: pick one, or type its name.');
    const model = dialog.getByLabel('Upstream model');
    const listed = await model.evaluate((input: HTMLInputElement) => [...(input.list?.options ?? [])].map((o) => o.value));
    expect(listed).toEqual(['m', 'm-large']);
    await model.fill('m-large');
    await dialog.getByLabel('Name', { exact: true }).fill('e2e-picked');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    const row = page.getByTestId('llm-row').filter({ hasText: 'e2e-picked' });
    await expect(row).toContainText('m-large');
    await expect(row.getByRole('cell').nth(3)).toContainText('ok');
    await expect(row).toContainText('Checked just now.');

    // Saved without a check, then checked from its row: the key is rejected, in words.
    const saved = await page.request.post('/v1/llms', {
      headers: auth,
      params: { skip_auth_check: 'true' },
      data: { name: 'e2e-unchecked', provider: 'openai-compatible', base_url: provider.url, model: 'm', api_key: 'sk-stale', grants: { all_members: true } },
    });
    expect(saved.status()).toBe(201);
    await page.reload();
    const unchecked = page.getByTestId('llm-row').filter({ hasText: 'e2e-unchecked' });
    await expect(unchecked).toContainText('not checked');
    await unchecked.getByRole('button', { name: 'Check' }).click();
    await expect(unchecked).toContainText('key rejected');
    await expect(unchecked).toContainText('The provider rejected this key (401). Checked just now.');
    // Kept: a reload shows the same.
    await page.reload();
    await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-unchecked' })).toContainText('key rejected');
  } finally {
    for (const name of ['e2e-picked', 'e2e-unchecked']) {
      await page.request.delete(`/v1/llms/${name}`, { headers: auth });
    }
    await provider.stop();
  }
});
