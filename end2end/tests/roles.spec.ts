import { expect, type Page, test } from '@playwright/test';
import { MASTER_KEY, addUser, signIn, watchForErrors } from './fixtures';

const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

function ensureUser(name: string, role: 'admin' | 'viewer' | 'member') {
  try {
    addUser(name, role, `${name}-password`);
  } catch {
    // Already there from an earlier test against the same data.
  }
}

async function signInAs(page: Page, name: string) {
  await page.goto('/login');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(`${name}-password`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

test('each role is offered only what it may do: Revoke on keys, the audit trail, team editing', async ({ browser, page }) => {
  ensureUser('roles-viewer', 'viewer');
  ensureUser('roles-member', 'member');
  const problems = watchForErrors(page);
  // A key of the member's, and (below) one of the viewer's.
  const created = await page.request.post('/v1/keys', { headers: AUTH, data: { name: 'roles-admin-key', user: 'roles-member' } });
  expect(created.status()).toBe(201);
  const otherKey = (await created.json()).id;

  await signInAs(page, 'roles-viewer');
  await page.goto('/keys');
  await page.getByLabel('Name').fill('roles-viewer-key');
  await page.getByRole('button', { name: 'Create key' }).click();
  await page.getByRole('button', { name: 'Done' }).click();
  // A viewer reads everyone's keys, and may revoke only their own.
  const own = page.getByRole('row').filter({ hasText: 'roles-viewer-key' });
  const others = page.getByRole('row').filter({ hasText: 'roles-admin-key' });
  await expect(others).toBeVisible();
  await expect(others.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
  await expect(own.getByRole('button', { name: 'Revoke' })).toBeVisible();
  await expect(page.getByLabel('Owner')).toHaveCount(0);
  // The audit trail, yes; editing teams, no.
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Audit' })).toBeVisible();
  await page.goto('/teams');
  await expect(page.getByRole('heading', { name: 'Teams' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Add team' })).toHaveCount(0);
  expect(problems).toEqual([]);

  // A member: no Audit link, and the page by its URL says it is not for them, with no form.
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  const memberProblems = watchForErrors(member);
  await signInAs(member, 'roles-member');
  await expect(member.getByRole('navigation').getByRole('link', { name: 'Audit' })).toHaveCount(0);
  await member.goto('/audit');
  await expect(member.getByTestId('not-for-role')).toContainText('Not available to your role');
  await expect(member.getByTestId('not-for-role')).toContainText('The audit trail is for admins and viewers.');
  await expect(member.getByRole('button', { name: 'Filter' })).toHaveCount(0);
  await expect(member.getByRole('alert')).toHaveCount(0);
  await member.goto('/teams');
  await expect(member.getByText('You are not in any team.')).toBeVisible();
  expect(memberProblems).toEqual([]);
  await memberContext.close();

  // Leave no key behind for the tests that follow.
  await page.request.delete(`/v1/keys/${otherKey}`, { headers: AUTH });
  const keys = await (await page.request.get('/v1/keys', { headers: AUTH })).json();
  for (const key of keys.data.filter((k: { name: string }) => k.name === 'roles-viewer-key')) {
    await page.request.delete(`/v1/keys/${key.id}`, { headers: AUTH });
  }
});

test('an admin adds a team, picks its members by name, changes them and deletes it; its member sees it', async ({ browser, page }) => {
  ensureUser('team-ana', 'member');
  ensureUser('team-bob', 'member');
  await page.request.delete('/v1/teams/e2e-research', { headers: AUTH });
  const problems = watchForErrors(page);
  await signIn(page);
  await page.getByRole('navigation').getByRole('link', { name: 'Teams' }).click();
  await expect(page).toHaveURL(/\/teams$/);
  await expect(page).toHaveTitle('Teams — Hearth');

  await page.getByRole('button', { name: 'Add team' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add team' });
  await dialog.getByLabel('Name').fill('e2e-research');
  // Members are picked from the users there are, not typed.
  await dialog.getByRole('checkbox', { name: 'team-ana' }).check();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByTestId('team-row').filter({ hasText: 'e2e-research' });
  await expect(row).toContainText('team-ana');

  await row.getByRole('button', { name: 'Members' }).click();
  const members = page.getByRole('dialog', { name: 'Team members' });
  await expect(members.getByRole('checkbox', { name: 'team-ana' })).toBeChecked();
  await members.getByRole('checkbox', { name: 'team-bob' }).check();
  await members.getByRole('button', { name: 'Save' }).click();
  await expect(members).toBeHidden();
  await expect(row).toContainText('team-ana, team-bob');

  // A name taken is said beside the name.
  await page.getByRole('button', { name: 'Add team' }).click();
  const again = page.getByRole('dialog', { name: 'Add team' });
  await again.getByLabel('Name').fill('e2e-research');
  await again.getByRole('button', { name: 'Save' }).click();
  await expect(again.getByLabel('Name')).toHaveAccessibleDescription(/already/);
  await again.getByRole('button', { name: 'Cancel' }).click();

  // Its member sees the team, read-only.
  const anaContext = await browser.newContext();
  const ana = await anaContext.newPage();
  await signInAs(ana, 'team-ana');
  await ana.goto('/teams');
  await expect(ana.getByTestId('team-row').filter({ hasText: 'e2e-research' })).toBeVisible();
  await expect(ana.getByRole('button', { name: 'Members' })).toHaveCount(0);
  await anaContext.close();

  // The key form offers the users by name to an admin.
  await page.goto('/keys');
  const offered = await page.getByLabel('Owner').evaluate((input: HTMLInputElement) => [...(input.list?.options ?? [])].map((o) => o.value));
  expect(offered).toEqual(expect.arrayContaining(['team-ana', 'team-bob']));

  // An LLM is granted to users and teams picked by name.
  await page.request.delete('/v1/llms/e2e-granted', { headers: AUTH });
  await page.goto('/llms');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByRole('button', { name: 'Add LLM' }).click();
  const llm = page.getByRole('dialog', { name: 'Add LLM' });
  await llm.getByLabel('Provider', { exact: true }).selectOption('openai-compatible');
  await llm.getByLabel('Base URL').fill('http://127.0.0.1:9');
  await llm.getByLabel('Upstream model').fill('m');
  await llm.getByLabel('Name', { exact: true }).fill('e2e-granted');
  await llm.getByLabel('All members').uncheck();
  await llm.getByRole('group', { name: 'Teams' }).getByRole('checkbox', { name: 'e2e-research' }).check();
  await llm.getByRole('group', { name: 'Users' }).getByRole('checkbox', { name: 'team-bob' }).check();
  await llm.getByRole('button', { name: 'Save' }).click();
  await expect(llm).toBeHidden();
  await expect(page.getByTestId('llm-row').filter({ hasText: 'e2e-granted' })).toContainText('team-bob, team e2e-research');
  await page.request.delete('/v1/llms/e2e-granted', { headers: AUTH });

  await page.goto('/teams');
  await page.getByTestId('team-row').filter({ hasText: 'e2e-research' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog', { name: 'Delete the team “e2e-research”?' }).getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('team-row').filter({ hasText: 'e2e-research' })).toHaveCount(0);
  expect(problems).toEqual([]);
});
