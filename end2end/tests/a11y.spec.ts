import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { signIn } from './fixtures';

// Every page, in both color schemes, against WCAG 2 A/AA (axe-core): no serious or critical
// violation. The pages are checked once hydrated, as a user meets them.
const PAGES: [string, string][] = [
  ['/', 'Overview'],
  ['/chat', 'Chat'],
  ['/llms', 'LLMs'],
  ['/mcp-servers', 'MCP servers'],
  ['/keys', 'API keys'],
  ['/teams', 'Teams'],
  ['/audit', 'Audit'],
  ['/no-such-page', 'Page not found'],
];

const DIALOGS: [string, string, string][] = [
  ['/llms', 'Add LLM', 'Add LLM'],
  ['/mcp-servers', 'Add MCP server', 'Add MCP server'],
  ['/mcp-servers', 'Add shared server', 'Add shared server'],
  ['/teams', 'Add team', 'Add team'],
];

for (const scheme of ['light', 'dark'] as const) {
  test(`every page passes axe in ${scheme} mode`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    const found: string[] = [];
    const check = async (path: string) => {
      await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
      const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
      for (const v of violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
        found.push(`${path}: ${v.id} (${v.impact}) on ${v.nodes.length} element(s): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
      }
    };
    await page.goto('/login');
    await check('/login');
    await signIn(page);
    for (const [path] of PAGES) {
      await page.goto(path);
      await check(path);
    }
    // The MCP servers page with "Connect a client" open.
    await page.goto('/mcp-servers');
    await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
    await page.getByTestId('connect-client').locator('summary').click();
    await expect(page.getByTestId('client-snippet').first()).toBeVisible();
    await check('/mcp-servers (Connect a client)');
    // And with each page's dialog open: the page behind is inert, the dialog is what is met.
    for (const [path, opener, name] of DIALOGS) {
      await page.goto(path);
      await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
      await page.getByRole('button', { name: opener }).click();
      await expect(page.getByRole('dialog', { name })).toBeVisible();
      await check(`${path} (${name} dialog)`);
    }
    console.log(`axe, ${scheme}: ${found.length} serious or critical violation(s)${found.map((f) => `\n  ${f}`).join('')}`);
    expect(found).toEqual([]);
  });
}
