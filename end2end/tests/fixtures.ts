import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const PORT = Number(process.env.HEARTH_E2E_PORT ?? 18484);
export const MASTER_KEY = 'e2e-master-key-0123456789';

const tmp = path.join(__dirname, '..', '.tmp');

/** Adds a user through the copied binary's CLI, against the running server's database. */
export function addUser(name: string, role: 'admin' | 'viewer' | 'member', password: string) {
  execFileSync(path.join(tmp, 'run', 'hearth'), ['user', 'add', name, '--role', role, '--data-dir', path.join(tmp, 'data')], {
    input: `${password}\n`,
  });
}
