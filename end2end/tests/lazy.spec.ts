import { expect, type Page, test } from '@playwright/test';
import { MASTER_KEY, signIn } from './fixtures';

const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const ANSWER = 'Plain **bold** and <img src=x onerror="window.__ran=1"> as text';

/** A conversation holding one answer in markdown, saved through the API. */
async function conversationWithAnswer(page: Page): Promise<number> {
  const created = await (await page.request.post('/v1/conversations', { headers: AUTH, data: { title: 'Lazy e2e' } })).json();
  await page.request.post(`/v1/conversations/${created.id}/messages`, { headers: AUTH, data: { role: 'user', content: 'hi' } });
  await page.request.post(`/v1/conversations/${created.id}/messages`, { headers: AUTH, data: { role: 'assistant', content: ANSWER } });
  return created.id;
}

/** The `/pkg/` files the page fetched, by path, with the answer's headers. */
function watchPkg(page: Page): Map<string, Record<string, string>> {
  const fetched = new Map<string, Record<string, string>>();
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/pkg/')) fetched.set(path, { status: String(r.status()), ...r.headers() });
  });
  return fetched;
}

test('the admin pages and the markdown renderer are fetched when needed, cached for good', async ({ page }) => {
  const fetched = watchPkg(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const id = await conversationWithAnswer(page);
  await page.goto(`/chat?c=${id}`);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();

  // The answer is markdown once the renderer's chunk is here; its raw HTML stays text.
  const answer = page.locator('[data-testid="message"][data-role="assistant"] .markdown');
  await expect(answer.locator('strong')).toHaveText('bold');
  await expect(answer).toContainText('<img src=x onerror="window.__ran=1"> as text');
  await expect(answer.locator('img')).toHaveCount(0);
  const paths = [...fetched.keys()];
  expect(paths.some((p) => /\/split_markdown\.[0-9a-f]{12}\.wasm$/.test(p))).toBe(true);
  expect(paths.filter((p) => /\/split_(llms|keys|audit|mcp_servers)_page\./.test(p))).toEqual([]);

  // Opening an admin page fetches its code: typed, compressed, immutable.
  await page.getByRole('navigation').getByRole('link', { name: 'LLMs' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('LLMs');
  const chunk = [...fetched.entries()].find(([p]) => /\/split_llms_page\.[0-9a-f]{12}\.wasm$/.test(p));
  expect(chunk, 'the LLMs page chunk').toBeTruthy();
  expect(chunk![1]['content-type']).toBe('application/wasm');
  expect(chunk![1]['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(chunk![1]['content-encoding']).toBe('br');
  const loader = [...fetched.entries()].find(([p]) => /\/__wasm_split\.[0-9a-f]{22}\.js$/.test(p));
  expect(loader![1]['content-type']).toMatch(/javascript/);
  expect(loader![1]['cache-control']).toBe('public, max-age=31536000, immutable');

  // Opened directly, an admin page hydrates with its chunk preloaded by the page itself.
  await page.goto('/keys');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  expect(await page.locator('link[rel="preload"][href*="/split_keys_page."]').count()).toBe(1);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('API keys');
  expect(errors).toEqual([]);
  expect(await page.evaluate(() => (window as any).__ran)).toBeUndefined();
});

test('when the renderer cannot be fetched, answers stay readable as text and the page works', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/pkg/split_markdown.*', (route) => route.abort());
  await signIn(page);
  const id = await conversationWithAnswer(page);
  await page.goto(`/chat?c=${id}`);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();

  const answer = page.locator('[data-testid="message"][data-role="assistant"] .markdown');
  await expect(answer.locator('.plain')).toHaveText(ANSWER);
  await expect(answer.locator('strong, img')).toHaveCount(0);
  // Still interactive: a new chat empties the thread.
  await page.getByRole('link', { name: 'New chat' }).click();
  await expect(page.getByTestId('message')).toHaveCount(0);
  expect(errors).toEqual([]);
  expect(await page.evaluate(() => (window as any).__ran)).toBeUndefined();
});

test('an admin page whose code cannot be fetched says so and offers a reload', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // As after an update of Hearth: this tab's build's chunk is no longer there.
  await page.route('**/pkg/split_llms_page.*', (route) => route.fulfill({ status: 404, body: 'gone' }));
  await signIn(page);
  await page.getByRole('navigation').getByRole('link', { name: 'LLMs' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('This page could not be loaded');
  await expect(page.getByRole('alert')).toContainText('Hearth may have been updated');
  // The rest of the app still works, and the reload brings the page.
  await page.getByRole('navigation').getByRole('link', { name: 'Keys' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('API keys');
  await page.getByRole('navigation').getByRole('link', { name: 'LLMs' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('This page could not be loaded');
  await page.unroute('**/pkg/split_llms_page.*');
  await page.getByRole('link', { name: 'Reload the page' }).click();
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('LLMs');
  expect(errors).toEqual([]);
});
