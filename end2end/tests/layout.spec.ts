import { expect, test } from '@playwright/test';
import { addUser, MASTER_KEY, signIn } from './fixtures';

const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

test('at 1280 px no table is cut off, and each scroll region is reachable by keyboard', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  try {
    addUser('layout-desktop', 'member', 'layout-password');
  } catch {
    // Already there from an earlier run against the same data.
  }
  await page.request.delete('/v1/llms/desktop-layout-llm', { headers: AUTH });
  const llm = await page.request.post('/v1/llms', {
    headers: AUTH,
    data: {
      name: 'desktop-layout-llm',
      provider: 'openai-compatible',
      base_url: 'http://127.0.0.1:9/v1',
      model: 'an-upstream-model-with-a-name-of-some-length',
      description: 'An LLM with a description that runs on for a while, as descriptions do',
      tier: 'standard',
      grants: { all_members: true, users: ['layout-desktop'], teams: [] },
    },
  });
  expect(llm.status(), await llm.text()).toBe(201);
  const key = await page.request.post('/v1/keys', { headers: AUTH, data: { name: 'a key with a long descriptive name', user: 'layout-desktop' } });
  expect(key.status()).toBe(201);
  const keyId = (await key.json()).id;
  await signIn(page);
  for (const path of ['/llms', '/keys', '/audit']) {
    await page.goto(path);
    await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
    const region = page.getByRole('region').first();
    await expect(region).toBeVisible();
    const { scroll, client } = await region.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(scroll, `${path}: the table is wider than its box`).toBeLessThanOrEqual(client);
    expect(await region.getAttribute('tabindex')).toBe('0');
    expect(await region.getAttribute('aria-label')).toBeTruthy();
  }
  await page.request.delete('/v1/llms/desktop-layout-llm', { headers: AUTH });
  await page.request.delete(`/v1/keys/${keyId}`, { headers: AUTH });
});
