import { expect, test } from '@playwright/test';
import { MASTER_KEY, signIn } from './fixtures';

const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

test('a long word or URL in an answer wraps inside it, and a quote is set apart', async ({ page }) => {
  await signIn(page);
  const created = await (await page.request.post('/v1/conversations', { headers: AUTH, data: { title: 'Wrapping e2e' } })).json();
  const answer = [
    `A word: ${'x'.repeat(400)}`,
    `A link: https://example.com/${'segment/'.repeat(40)}`,
    '> Quoted by the model.',
  ].join('\n\n');
  await page.request.post(`/v1/conversations/${created.id}/messages`, { headers: AUTH, data: { role: 'user', content: 'wrap?' } });
  await page.request.post(`/v1/conversations/${created.id}/messages`, { headers: AUTH, data: { role: 'assistant', content: answer } });

  await page.goto(`/chat?c=${created.id}`);
  const markdown = page.locator('[data-testid="message"][data-role="assistant"] .markdown');
  const quote = markdown.locator('blockquote');
  await expect(quote).toHaveText('Quoted by the model.');
  const fits = () => markdown.evaluate((el) => el.scrollWidth <= el.clientWidth);
  expect(await fits()).toBe(true);
  expect(await quote.evaluate((el) => getComputedStyle(el).borderLeftWidth)).toBe('3px');
  await page.setViewportSize({ width: 360, height: 740 });
  expect(await fits()).toBe(true);
});
