import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { expect, type Page } from '@playwright/test';

/**
 * The port the server under test listens on: `HEARTH_E2E_PORT`, or a free one picked when the
 * suite starts. It is put in the environment, so the workers (started later) use the same one.
 */
export const PORT = Number((process.env.HEARTH_E2E_PORT ??= freePort()));

function freePort(): string {
  const script = "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })";
  return execFileSync(process.execPath, ['-e', script]).toString().trim();
}
export const MASTER_KEY = 'e2e-master-key-0123456789';

const tmp = path.join(__dirname, '..', '.tmp');

/** Adds a user through the copied binary's CLI, against the running server's database. */
export function addUser(name: string, role: 'admin' | 'viewer' | 'member', password: string) {
  execFileSync(path.join(tmp, 'run', 'hearth'), ['user', 'add', name, '--role', role, '--data-dir', path.join(tmp, 'data')], {
    input: `${password}\n`,
  });
}

/** Signs in with the master key once the page has hydrated, and waits for the overview. */
export async function signIn(page: Page) {
  await page.goto('/login');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('API key').fill(MASTER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

/** Console errors and uncaught exceptions: a panic in the wasm shows up here. */
export function watchForErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && !m.text().includes('Failed to load resource') && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  return problems;
}
