import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, type Page, test } from '@playwright/test';
import { MASTER_KEY, signIn } from './fixtures';

/** A fake OpenAI-compatible provider on loopback that accepts only `sk-good`. */
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
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
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
    await expect(page.getByTestId('llm-row')).toHaveCount(0);

    // The right key saves it.
    await dialog.getByLabel('API key', { exact: true }).fill('sk-good');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status')).toContainText('The provider accepted the key');
    await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-chat' })).toContainText('all members');

    // An unreachable provider saves anyway, with a warning.
    await page.getByRole('button', { name: 'Add LLM' }).click();
    await (await fillLlm(page, { name: 'e2e-offline', url: 'http://127.0.0.1:9', key: 'sk-good' })).getByRole('button', { name: 'Save' }).click();
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
    page.once('dialog', (d) => d.accept());
    await page.getByTestId('llm-row').filter({ hasText: 'e2e-offline' }).getByRole('button', { name: 'Delete' }).click();
    await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-offline' })).toHaveCount(0);
    expect(problems).toEqual([]);
  } finally {
    await provider.stop();
  }
});
