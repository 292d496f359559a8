// MCP servers for the browser to connect to, on loopback ports: the MCP project's
// "everything" server, and a server built with the official SDK that demands its own bearer
// token, records the headers it receives and sends no CORS headers.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface Peer {
  url: string;
  stop: () => Promise<void>;
}

/** A free loopback port, found by binding port 0. */
async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `@modelcontextprotocol/server-everything` in streamable HTTP mode; resolves once it answers. */
export async function startEverything(): Promise<Peer> {
  const port = await freePort();
  const entry = path.join(__dirname, '..', 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
  const child = spawn(process.execPath, [entry, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server-everything did not start within 30 s')), 30_000);
    const watch = (chunk: Buffer) => {
      if (chunk.toString().includes(`listening on port ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('exit', (code) => reject(new Error(`server-everything exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      child.kill('SIGTERM');
    },
  };
}

export interface GuardedPeer extends Peer {
  /** The headers of every request received, as Node lower-cases them. */
  received: http.IncomingHttpHeaders[];
}

/** An SDK server (stateless streamable HTTP) that answers only `Authorization: Bearer <token>`. */
export async function startGuarded(token: string): Promise<GuardedPeer> {
  const received: http.IncomingHttpHeaders[] = [];
  const server = http.createServer(async (req, res) => {
    received.push(req.headers);
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ error: 'invalid_token' }));
      return;
    }
    const mcp = new McpServer({ name: 'guarded', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'Says whose token was used' }, async () => ({
      content: [{ type: 'text', text: 'the owner of the token' }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      transport.close();
      mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
