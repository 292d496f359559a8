import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type APIRequestContext, test as base, expect, type Page } from '@playwright/test';
import { MASTER_KEY, signIn, watchForErrors } from './fixtures';
import { startEverything } from './mcp-peers';

const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const LLM = 'e2e-stream';
const SERVER = 'peer';

interface Provider {
  url: string;
  /** Every chat request's body, in order. */
  requests: any[];
  /** Streams the client closed before they ended. */
  aborted: () => number;
  stop: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fake OpenAI-compatible provider on loopback that streams its answers:
 * - with an `…__echo` tool on offer and a user asking to echo, it calls that tool;
 * - after a tool result, it streams "The echo said: <result>" and a code block, slowly;
 * - asked for a short story, it streams 40 words in 6 s;
 * - asked for a long story, it streams words until the client hangs up;
 * - otherwise it reasons briefly (`reasoning_content`) and answers "You said: <text>".
 */
async function startProvider(): Promise<Provider> {
  const requests: any[] = [];
  let aborted = 0;
  let calls = 0;
  const server = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
      return;
    }
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw);
    requests.push(body);
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        closed = true;
        aborted += 1;
      }
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (delta: object, finish: string | null = null) =>
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
    const last = body.messages[body.messages.length - 1];
    const echo = (body.tools ?? []).find((t: any) => t.function.name.endsWith('__echo'));
    if (last.role === 'user' && echo && /echo/.test(last.content)) {
      calls += 1;
      send({ role: 'assistant', tool_calls: [{ index: 0, id: `call_${calls}`, type: 'function', function: { name: echo.function.name, arguments: '' } }] });
      send({ tool_calls: [{ index: 0, function: { arguments: '{"message":' } }] });
      send({ tool_calls: [{ index: 0, function: { arguments: '"hello from e2e"}' } }] });
      send({}, 'tool_calls');
    } else if (last.role === 'tool') {
      for (const piece of ['The echo ', 'said: ', last.content, '\n\n```js\nconst x = 1; // one\n```\n']) {
        send({ content: piece });
        await sleep(300);
      }
      send({}, 'stop');
    } else if (/short story/.test(last.content)) {
      for (let i = 0; i < 40 && !closed; i++) {
        send({ content: `part${i} ` });
        await sleep(150);
      }
      send({}, 'stop');
    } else if (/long story/.test(last.content)) {
      for (let i = 0; i < 600 && !closed; i++) {
        send({ content: `word${i} ` });
        await sleep(50);
      }
      send({}, 'stop');
    } else {
      send({ role: 'assistant', reasoning_content: 'The user wrote something; ' });
    send({ reasoning_content: 'repeat it.' });
    send({ content: 'You said: ' });
      send({ content: last.content });
      send({}, 'stop');
    }
    if (!closed) res.end('data: [DONE]\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    aborted: () => aborted,
    stop: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Registers the fake provider as an LLM everyone may run, and the MCP server for the master key. */
async function setUp(request: APIRequestContext, providerUrl: string, mcpUrl: string): Promise<number> {
  await request.delete(`/v1/llms/${LLM}`, { headers: AUTH });
  const llm = await request.post('/v1/llms', {
    headers: AUTH,
    data: { name: LLM, provider: 'openai-compatible', base_url: providerUrl, model: 'm', api_key: 'sk-any', grants: { all_members: true, users: [], teams: [] } },
  });
  expect(llm.status()).toBe(201);
  const server = await request.post('/v1/me/mcp-servers', { headers: AUTH, data: { name: SERVER, url: mcpUrl, use_proxy: true } });
  expect(server.status()).toBe(201);
  return (await server.json()).id;
}

async function tearDown(request: APIRequestContext, serverId: number | undefined) {
  if (serverId !== undefined) await request.delete(`/v1/me/mcp-servers/${serverId}`, { headers: AUTH });
  await request.delete(`/v1/llms/${LLM}`, { headers: AUTH });
}

/**
 * Each test gets the everything server and the fake provider, registered for the master key
 * as the MCP server `peer` and the LLM `e2e-stream`, removed again afterwards.
 */
const test = base.extend<{ provider: Provider }>({
  provider: async ({ page }, use) => {
    const everything = await startEverything();
    const provider = await startProvider();
    let serverId: number | undefined;
    try {
      serverId = await setUp(page.request, provider.url, everything.url);
      await use(provider);
    } finally {
      await tearDown(page.request, serverId);
      await provider.stop();
      await everything.stop();
    }
  },
});

/** Signs in, opens the chat and waits until the MCP server's tools are on offer. */
async function openChat(page: Page) {
  await signIn(page);
  await page.getByRole('navigation').getByRole('link', { name: 'Chat' }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await expect(page.getByTestId('chat-tools')).toContainText(/peer: \d+ tools/);
}

async function send(page: Page, text: string) {
  await page.getByLabel('Model').selectOption(LLM);
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

test('a tool call allowed once: its card, the streamed answer, and all of it after a reload', async ({ page, provider }) => {
  const problems = watchForErrors(page);
  await openChat(page);
  await expect(page.getByLabel('Model')).toHaveValue(LLM);
  await send(page, 'Please echo something');

  // The model asks for `echo`; the card waits for the user.
  const pending = page.locator('[data-testid="tool-card"][data-state="pending"]');
  await expect(pending).toContainText('echo');
  await expect(pending).toContainText(SERVER);
  await expect(pending).toContainText('hello from e2e');
  await pending.getByRole('button', { name: 'Allow once' }).click();

  const card = page.locator('[data-testid="tool-card"][data-state="done"]');
  await expect(card.getByTestId('tool-result')).toHaveText('Echo: hello from e2e');
  // The final answer streams in: the live answer shows its beginning before it is complete.
  await expect(page.getByTestId('live-answer')).toContainText('The echo');
  const answer = page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'The echo said' });
  await expect(answer).toContainText('The echo said: Echo: hello from e2e');
  await expect(answer.locator('.code .tk')).toHaveText('const');
  await expect(answer.getByRole('button', { name: 'Copy', exact: true }).first()).toBeVisible();
  await expect(page).toHaveURL(/\/chat\?c=\d+$/);

  // What the provider was sent: the tool under a name that fits providers' rules, then its result.
  const [first, second] = provider.requests;
  const offered = first.tools.map((t: any) => t.function.name);
  expect(offered).toContain(`${SERVER}__echo`);
  for (const name of offered) expect(name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  expect(second.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: 'Echo: hello from e2e' });
  expect(second.messages.at(-2).tool_calls[0].function).toEqual({ name: `${SERVER}__echo`, arguments: '{"message":"hello from e2e"}' });

  // "Allow once" asked nothing to be stored.
  const servers = await (await page.request.get('/v1/me/mcp-servers', { headers: AUTH })).json();
  expect(servers.data.find((s: any) => s.name === SERVER).approvals ?? {}).toEqual({});

  await page.reload();
  await expect(page.locator('[data-testid="message"][data-role="user"]')).toHaveText(/Please echo something/);
  await expect(page.locator('[data-testid="tool-card"][data-state="done"]').getByTestId('tool-result')).toHaveText('Echo: hello from e2e');
  await expect(page.locator('[data-testid="tool-card"]')).toContainText('"message": "hello from e2e"');
  await expect(page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'The echo said' })).toBeVisible();
  await expect(page.getByTestId('conversation').filter({ hasText: 'Please echo something' })).toBeVisible();
  expect(problems).toEqual([]);
});

test('Stop keeps the partial answer, and "Always allow" is honoured after a reload without asking', async ({ page, provider }) => {
  const problems = watchForErrors(page);
  await openChat(page);

  await send(page, 'Tell me a long story');
  const live = page.getByTestId('live-answer');
  await expect(live).toContainText('word5 ');
  await page.getByRole('button', { name: 'Stop' }).click();
  const stopped = page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'Stopped by you.' });
  await expect(stopped).toContainText('word5 ');
  const kept = (await stopped.locator('.markdown').textContent()) ?? '';
  expect(kept).not.toContain('word599');
  await expect.poll(provider.aborted).toBe(1);
  await page.reload();
  await expect(page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'Stopped by you.' }).locator('.markdown')).toHaveText(kept);

  // "Always allow" on the card is stored on Hearth…
  await page.getByRole('link', { name: 'New chat' }).click();
  await expect(page.getByTestId('chat-tools')).toContainText(/peer: \d+ tools/);
  await send(page, 'Please echo this');
  await page.locator('[data-testid="tool-card"][data-state="pending"]').getByRole('button', { name: 'Always allow' }).click();
  await expect(page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'The echo said' })).toBeVisible();
  const approvals = async () => {
    const list = await (await page.request.get('/v1/me/mcp-servers', { headers: AUTH })).json();
    return list.data.find((s: any) => s.name === SERVER).approvals;
  };
  expect(await approvals()).toEqual({ echo: 'always' });

  // …so after a reload the tool runs without a card asking (were it asked, the answer would never come).
  await page.reload();
  await page.getByRole('link', { name: 'New chat' }).click();
  await expect(page.getByTestId('chat-tools')).toContainText(/peer: \d+ tools/);
  await send(page, 'Please echo once more');
  await expect(page.locator('[data-testid="tool-card"][data-state="done"]').getByTestId('tool-result')).toHaveText('Echo: hello from e2e');
  await expect(page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'The echo said' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Allow once' })).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('a denied tool call is shown as denied, not as failed', async ({ page, provider }) => {
  const problems = watchForErrors(page);
  await openChat(page);
  await send(page, 'Please echo, or not');
  await page.locator('[data-testid="tool-card"][data-state="pending"]').getByRole('button', { name: 'Deny' }).click();
  const card = page.locator('[data-testid="tool-card"][data-state="denied"]');
  await expect(card.locator('.badge')).toHaveText('denied by you');
  await expect(card.locator('.badge')).not.toHaveClass(/failed/);
  await expect(page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'The echo said' })).toBeVisible();
  expect(provider.requests.at(-1).messages.at(-1).content).toBe('The user denied this tool call.');
  // The same after a reload: it is saved so.
  await page.reload();
  await expect(page.locator('[data-testid="tool-card"][data-state="denied"]')).toBeVisible();
  expect(problems).toEqual([]);
});

test('the composer is ready to type and grows with the text; a conversation exports as JSON', async ({ page, provider }) => {
  const problems = watchForErrors(page);
  await signIn(page);
  await page.goto('/chat');
  await expect(page.getByTestId('chat-tools')).toContainText(/peer: \d+ tools/);
  const box = page.getByLabel('Message', { exact: true });
  await expect(box).toBeFocused();
  const before = (await box.boundingBox())!.height;
  await box.fill('one\ntwo\nthree\nfour\nfive\nsix');
  expect((await box.boundingBox())!.height).toBeGreaterThan(before);
  await box.fill('');
  await send(page, 'Export me');
  await expect(page.locator('[data-testid="message"][data-role="assistant"]')).toContainText('You said: Export me');
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export', exact: true }).click();
  const file = await (await download).path();
  const exported = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
  expect(exported.messages.map((m: any) => m.role)).toEqual(['user', 'assistant']);
  expect(problems).toEqual([]);
});

test('a new chat starts with the LLM the user last used, also in another browser', async ({ page, browser, provider }) => {
  // An LLM whose name sorts first: the one a new chat would get without a memory.
  const FIRST = 'a-e2e-first';
  await page.request.delete(`/v1/llms/${FIRST}`, { headers: AUTH });
  const created = await page.request.post('/v1/llms', {
    headers: AUTH,
    data: { name: FIRST, provider: 'openai-compatible', base_url: provider.url, model: 'm', api_key: 'sk-any', grants: { all_members: true, users: [], teams: [] } },
  });
  expect(created.status()).toBe(201);
  try {
    await openChat(page);
    await send(page, 'Remember this LLM');
    await expect(page.locator('[data-testid="message"][data-role="assistant"]')).toContainText('You said: Remember this LLM');
    await page.getByRole('link', { name: 'New chat' }).click();
    await expect(page).toHaveURL(/\/chat$/);
    await expect(page.getByLabel('Model')).toHaveValue(LLM);
    // A new chat is ready for its first message.
    await expect(page.getByLabel('Message', { exact: true })).toBeFocused();

    // Another browser holds nothing of this one: the memory is the user's, on the server.
    const context = await browser.newContext();
    const other = await context.newPage();
    await signIn(other);
    await other.goto('/chat');
    await expect(other.getByLabel('Model')).toHaveValue(LLM);
    expect(await other.getByLabel('Model').locator('option').first().textContent()).toBe(FIRST);
    await context.close();
  } finally {
    await page.request.delete(`/v1/llms/${FIRST}`, { headers: AUTH });
  }
});

test('an answer keeps streaming while the user is elsewhere; Back and Forward move between conversations', async ({ page, provider }) => {
  const problems = watchForErrors(page);
  const other = await (await page.request.post('/v1/conversations', { headers: AUTH, data: { title: 'Another conversation' } })).json();
  await page.request.post(`/v1/conversations/${other.id}/messages`, { headers: AUTH, data: { role: 'user', content: 'Something else entirely' } });
  await openChat(page);

  await send(page, 'Tell me a short story');
  await expect(page).toHaveURL(/\/chat\?c=\d+$/);
  const story = page.url();
  await expect(page).toHaveTitle('Tell me a short story — Hearth');
  await expect(page.getByTestId('live-answer')).toContainText('part2 ');

  // Another conversation while it streams: its own address, its own messages, no live answer.
  await page.getByTestId('conversation').filter({ hasText: 'Another conversation' }).getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/chat\\?c=${other.id}$`));
  await expect(page.locator('[data-testid="message"][data-role="user"] .msg-text')).toHaveText(['Something else entirely']);
  await expect(page.getByTestId('live-answer')).toHaveCount(0);
  await expect(page).toHaveTitle('Another conversation — Hearth');
  // It was left mid-answer: still arriving.
  expect(await page.getByTestId('conversation').filter({ hasText: 'Tell me a short story' }).locator('.answering').count()).toBe(1);
  // Then another page.
  await page.getByRole('navigation').getByRole('link', { name: 'LLMs' }).click();
  await expect(page.getByRole('heading', { name: 'LLMs' })).toBeVisible();

  // Back twice: the other conversation, then the story, complete, neither stopped nor interrupted.
  await page.goBack();
  await expect(page).toHaveURL(new RegExp(`/chat\\?c=${other.id}$`));
  await expect(page.locator('[data-testid="message"][data-role="user"] .msg-text')).toHaveText(['Something else entirely']);
  await page.goBack();
  await expect(page).toHaveURL(story);
  const answer = page.locator('[data-testid="message"][data-role="assistant"]');
  await expect(answer).toContainText('part39', { timeout: 20_000 });
  await expect(answer).not.toContainText('Stopped by you');
  await expect(page.getByTestId('interrupted')).toHaveCount(0);
  expect(provider.aborted()).toBe(0);
  await page.goForward();
  await expect(page.locator('[data-testid="message"][data-role="user"] .msg-text')).toHaveText(['Something else entirely']);

  // Saved whole: a reload shows the same answer.
  await page.goto(story);
  await expect(page.locator('[data-testid="message"][data-role="assistant"]')).toContainText('part39');
  expect(problems).toEqual([]);
});

test('a reload mid-answer shows what had arrived, marked as interrupted', async ({ page, provider }) => {
  const problems = watchForErrors(page);
  await openChat(page);
  await send(page, 'Tell me a long story');
  await expect(page.getByTestId('live-answer')).toContainText('word40 ');
  const id = Number(new URL(page.url()).searchParams.get('c'));
  // Saved as it grows, about once a second.
  await expect
    .poll(async () => {
      const conversation = await (await page.request.get(`/v1/conversations/${id}`, { headers: AUTH })).json();
      return conversation.messages.at(-1)?.content ?? '';
    })
    .toContain('word20 ');
  await page.reload();
  const answer = page.locator('[data-testid="message"][data-role="assistant"]');
  await expect(answer).toContainText('word20 ');
  await expect(answer.getByTestId('interrupted')).toHaveText('Interrupted: the answer stopped arriving before it was complete.');
  await expect(answer).not.toContainText('Stopped by you');
  await expect.poll(provider.aborted).toBe(1);
  expect(problems).toEqual([]);
});

test('conversations are renamed, searched, edited, regenerated and deleted; 500 messages render', async ({ page, provider }) => {
  test.setTimeout(180_000);
  const problems = watchForErrors(page);
  await openChat(page);

  // Shift+Enter is a new line; Enter sends.
  await page.getByLabel('Model').selectOption(LLM);
  const box = page.getByLabel('Message', { exact: true });
  await box.fill('first line');
  await box.press('Shift+Enter');
  await box.pressSequentially('second line');
  await box.press('Enter');
  const answers = page.locator('[data-testid="message"][data-role="assistant"]');
  await expect(answers).toHaveText(/You said: first line\s+second line/);
  // The reasoning is there, collapsed.
  const reasoning = answers.getByTestId('reasoning');
  await expect(reasoning).not.toHaveAttribute('open');
  await expect(reasoning.getByText('The user wrote something; repeat it.')).toBeHidden();
  await reasoning.getByText('Reasoning').click();
  await expect(reasoning.getByText('The user wrote something; repeat it.')).toBeVisible();

  // Regenerate replaces the answer; it asks the provider again.
  const before = provider.requests.length;
  await page.getByRole('button', { name: 'Regenerate' }).click();
  await expect.poll(() => provider.requests.length).toBe(before + 1);
  await expect(answers).toHaveCount(1);

  // Edit and resend replaces the message and what followed.
  await page.locator('[data-testid="message"][data-role="user"]').getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Edit message').fill('an edited question');
  await page.getByRole('button', { name: 'Send again' }).click();
  await expect(answers).toHaveCount(1);
  await expect(answers).toContainText('You said: an edited question');
  await expect(page.locator('[data-testid="message"][data-role="user"]')).toHaveText(/an edited question/);

  // Rename, search, delete.
  const item = page.getByTestId('conversation').filter({ hasText: 'first line' });
  await item.getByRole('button', { name: 'Rename' }).click();
  const rename = page.getByRole('dialog', { name: 'Rename the conversation' });
  await rename.getByLabel('Title').fill('');
  await rename.getByRole('button', { name: 'Save' }).click();
  await expect(rename.getByLabel('Title')).toHaveAccessibleDescription('Title cannot be empty.');
  await rename.getByLabel('Title').fill('Renamed by e2e');
  await rename.getByRole('button', { name: 'Save' }).click();
  await expect(rename).toBeHidden();
  const renamed = page.getByTestId('conversation').filter({ hasText: 'Renamed by e2e' });
  await expect(renamed).toBeVisible();
  await page.getByLabel('Search conversations').fill('renamed by');
  await expect(page.getByTestId('conversation')).toHaveCount(1);
  await page.getByLabel('Search conversations').fill('no such title');
  await expect(page.getByTestId('conversation')).toHaveCount(0);
  await page.getByLabel('Search conversations').fill('');
  await renamed.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog', { name: 'Delete the conversation?' }).getByRole('button', { name: 'Delete' }).click();
  await expect(renamed).toHaveCount(0);

  // A failure is said in words, in the thread.
  await page.getByRole('link', { name: 'New chat' }).click();
  await page.getByLabel('Model').selectOption(LLM);
  expect((await page.request.delete(`/v1/llms/${LLM}`, { headers: AUTH })).status()).toBe(204);
  await send(page, 'hello?');
  await expect(page.getByRole('alert')).toContainText(`The answer failed: `);
  await expect(page.getByRole('alert')).toContainText(LLM);

  // A conversation of 500 messages, saved through the API, rendered when opened.
  const created = await (await page.request.post('/v1/conversations', { headers: AUTH, data: { title: 'Five hundred' } })).json();
  for (let i = 0; i < 250; i++) {
    await page.request.post(`/v1/conversations/${created.id}/messages`, { headers: AUTH, data: { role: 'user', content: `Question ${i}: how does **this** work?` } });
    await page.request.post(`/v1/conversations/${created.id}/messages`, {
      headers: AUTH,
      data: { role: 'assistant', content: `Answer ${i}, with a list:\n\n- one\n- two\n\n\`\`\`rust\nfn main() { println!("{}", ${i}); }\n\`\`\`\n`, model: LLM },
    });
  }
  await page.reload();
  const started = Date.now();
  await page.getByTestId('conversation').filter({ hasText: 'Five hundred' }).click();
  await expect(page.getByTestId('message')).toHaveCount(500);
  await expect(page.getByTestId('message').last()).toContainText('Answer 249');
  const clicked = Date.now() - started;
  const inPage = await page.evaluate(() => {
    const t0 = performance.now();
    document.querySelectorAll('[data-testid="message"]').forEach((m) => m.getBoundingClientRect());
    return performance.now() - t0;
  });
  const loadStarted = Date.now();
  await page.goto(`/chat?c=${created.id}`);
  await expect(page.getByTestId('message')).toHaveCount(500);
  const fromLoad = Date.now() - loadStarted;
  console.log(`500-message conversation: ${clicked} ms from click to rendered; ${fromLoad} ms from page load (wasm included); layout pass ${inPage.toFixed(1)} ms`);
  expect(problems).toEqual([]);
});

base('a shared server\'s tool in chat: run through Hearth\'s /mcp, approved with its card, "Always allow" kept for the next time', async ({ page }) => {
  const SHARED = 'e2e-shared';
  const everything = await startEverything();
  const provider = await startProvider();
  const problems = watchForErrors(page);
  try {
    await page.request.delete(`/v1/mcp/servers/${SHARED}`, { headers: AUTH });
    await page.request.delete(`/v1/llms/${LLM}`, { headers: AUTH });
    const llm = await page.request.post('/v1/llms', {
      headers: AUTH,
      data: { name: LLM, provider: 'openai-compatible', base_url: provider.url, model: 'm', api_key: 'sk-any', grants: { all_members: true, users: [], teams: [] } },
    });
    expect(llm.status()).toBe(201);
    const shared = await page.request.post('/v1/mcp/servers', {
      headers: AUTH,
      data: { name: SHARED, url: everything.url, grants: { all_members: true } },
    });
    expect(shared.status()).toBe(201);

    await signIn(page);
    await page.getByRole('navigation').getByRole('link', { name: 'Chat' }).click();
    await expect(page.getByTestId('chat-tools')).toContainText(/e2e-shared: \d+ tools/);
    await send(page, 'Please echo something');
    const pending = page.locator('[data-testid="tool-card"][data-state="pending"]');
    await expect(pending).toContainText(SHARED);
    await expect(pending).toContainText('hello from e2e');
    await pending.getByRole('button', { name: 'Always allow' }).click();
    await expect(page.locator('[data-testid="tool-card"][data-state="done"]').getByTestId('tool-result')).toHaveText('Echo: hello from e2e');
    await expect(page.locator('[data-testid="message"][data-role="assistant"]').filter({ hasText: 'The echo said' })).toContainText('The echo said: Echo: hello from e2e');
    expect(provider.requests[0].tools.map((t: any) => t.function.name)).toContain(`${SHARED}__echo`);

    // The call went through /mcp/e2e-shared (audited there), and the approval is stored on Hearth.
    const audit = await (await page.request.get('/v1/audit?kind=mcp_tool_call', { headers: AUTH })).json();
    expect(audit.data.map((e: any) => e.target)).toContain(`mcp_tool:${SHARED}/"echo" ok`);
    const approvals = await (await page.request.get('/v1/mcp/approvals')).json();
    expect(approvals.data).toContainEqual({ server: SHARED, approvals: { echo: "always" } });

    // After a reload: the conversation is all there, and the tool runs without asking.
    await page.reload();
    await expect(page.locator('[data-testid="tool-card"][data-state="done"]').getByTestId('tool-result')).toHaveText('Echo: hello from e2e');
    await page.getByRole('link', { name: 'New chat' }).click();
    await expect(page.getByTestId('chat-tools')).toContainText(/e2e-shared: \d+ tools/);
    await send(page, 'Please echo once more');
    await expect(page.locator('[data-testid="tool-card"][data-state="done"]').getByTestId('tool-result')).toHaveText('Echo: hello from e2e');
    await expect(page.getByRole('button', { name: 'Allow once' })).toHaveCount(0);
    expect(problems).toEqual([]);
  } finally {
    await page.request.delete(`/v1/mcp/servers/${SHARED}`, { headers: AUTH });
    await page.request.delete(`/v1/llms/${LLM}`, { headers: AUTH });
    await provider.stop();
    await everything.stop();
  }
});
