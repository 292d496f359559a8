import { expect, test, type Page } from '@playwright/test';
import { addUser, MASTER_KEY, signIn, watchForErrors } from './fixtures';

// Runs in the `phone` project: a 360 px wide touch screen (playwright.config.ts).
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const PAGES = ['/', '/chat', '/llms', '/mcp-servers', '/keys', '/teams', '/audit', '/no-such-page'];

async function noSidewaysScroll(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth }));
  expect(widths.page, `${path} is wider than the screen`).toBeLessThanOrEqual(widths.window);
}

test('no page scrolls sideways on a 360 px phone, tables stack, and the pages are in a menu', async ({ page }) => {
  const problems = watchForErrors(page);
  // Rows with long values in every table.
  await page.request.delete('/v1/llms/phone-layout-llm-with-a-long-name', { headers: AUTH });
  const llm = await page.request.post('/v1/llms', {
    headers: AUTH,
    data: {
      name: 'phone-layout-llm-with-a-long-name',
      provider: 'openai-compatible',
      base_url: 'http://127.0.0.1:9/v1',
      model: 'a-rather-long-upstream-model-name-that-does-not-fit',
      grants: { all_members: true, users: [], teams: [] },
    },
  });
  expect(llm.status()).toBe(201);
  try {
    addUser('layout-phone', 'member', 'layout-password');
  } catch {
    // Already there from an earlier run against the same data.
  }
  const key = await page.request.post('/v1/keys', { headers: AUTH, data: { name: 'a phone key with a long descriptive name', user: 'layout-phone' } });
  expect(key.status()).toBe(201);
  const keyId = (await key.json()).id;
  await signIn(page);
  for (const path of PAGES) await noSidewaysScroll(page, path);

  // The pages are behind "Menu"; a link in it goes there and folds it again.
  await page.goto('/');
  const nav = page.getByRole('navigation', { name: 'Pages' });
  await expect(nav).toBeHidden();
  await page.getByRole('button', { name: 'Menu' }).click();
  await expect(page.getByRole('button', { name: 'Menu' })).toHaveAttribute('aria-expanded', 'true');
  await nav.getByRole('link', { name: 'LLMs' }).click();
  await expect(page).toHaveURL(/\/llms$/);
  await expect(nav).toBeHidden();

  // A table row is a stack of labelled lines, its actions inside the screen.
  const row = page.getByTestId('llm-row').filter({ hasText: 'phone-layout-llm-with-a-long-name' });
  await expect(row.locator('td[data-label="Upstream model"]')).toBeVisible();
  const box = await row.getByRole('button', { name: 'Delete' }).boundingBox();
  expect(box && box.x + box.width).toBeLessThanOrEqual(360);
  expect(await page.evaluate(() => getComputedStyle(document.querySelector('table.stack thead')!).display)).toBe('none');
  await page.request.delete('/v1/llms/phone-layout-llm-with-a-long-name', { headers: AUTH });
  await page.request.delete(`/v1/keys/${keyId}`, { headers: AUTH });
  expect(problems).toEqual([]);
});

test('a long conversation opens at its end with the composer in view; the list is a drawer', async ({ page }) => {
  test.setTimeout(120_000);
  const problems = watchForErrors(page);
  const created = await (await page.request.post('/v1/conversations', { headers: AUTH, data: { title: 'Phone five hundred' } })).json();
  for (let i = 0; i < 250; i++) {
    await page.request.post(`/v1/conversations/${created.id}/messages`, { headers: AUTH, data: { role: 'user', content: `Question ${i}` } });
    await page.request.post(`/v1/conversations/${created.id}/messages`, { headers: AUTH, data: { role: 'assistant', content: `Answer ${i}, in a few words.` } });
  }
  await signIn(page);
  await page.goto(`/chat?c=${created.id}`);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByTestId('message')).toHaveCount(500);

  // The composer is on screen without scrolling, and so is the last answer.
  const viewport = page.viewportSize()!;
  await expect(page.getByLabel('Message', { exact: true })).toBeInViewport();
  await expect(page.getByText('Answer 249, in a few words.')).toBeInViewport();
  const composer = (await page.getByLabel('Message', { exact: true }).boundingBox())!;
  expect(composer.y + composer.height).toBeLessThanOrEqual(viewport.height);
  expect(await page.evaluate(() => window.scrollY)).toBe(0);

  // The conversation list slides in over the thread, and out again once one is opened.
  const list = page.getByRole('complementary', { name: 'Conversations' });
  await expect(list).toBeHidden();
  await page.getByRole('button', { name: 'Conversations' }).click();
  await expect(list).toBeVisible();
  await list.getByRole('link', { name: 'New chat' }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await expect(list).toBeHidden();
  await expect(page.getByLabel('Message', { exact: true })).toBeInViewport();
  expect(problems).toEqual([]);
});
